"""The emergency box office at the bridge (应急售票窗口): sales from the allotment the
hub set aside for this bridge while the hub is unreachable (`sales`), their exactly-once
return to the hub and the hub's allotments and trusted bridge keys coming down
(`sync`), the printed ticket (`printing`) and the ticket-window page and API (`web`)."""
