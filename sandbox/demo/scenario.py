"""The demo scenario: its steps, in the order they run.

Each channel or device family adds its own step module here (WeChat mini-program and Pay,
the OTAs, travel agencies, the gates through the venue bridge …) and appends an instance to
`STEPS`; the summary gathers one section per step, so a new step needs no change elsewhere.
"""

from __future__ import annotations

from sandbox.demo.agency import AgencyStep
from sandbox.demo.alerts import CrowdAlertStep, CrowdRuleStep
from sandbox.demo.boxoffice import BoxOfficeStep
from sandbox.demo.context import Step
from sandbox.demo.ctrip import CtripStep
from sandbox.demo.douyin import DouyinStep
from sandbox.demo.drill import OutageDrillStep
from sandbox.demo.fliggy import FliggyStep
from sandbox.demo.gates import GatesStep
from sandbox.demo.meituan import MeituanStep
from sandbox.demo.reconcile import ReconcileStep
from sandbox.demo.stock import StockStep
from sandbox.demo.wechat import WeChatStep

STEPS: tuple[Step, ...] = (BoxOfficeStep(), AgencyStep(), WeChatStep(), CtripStep())
STEPS += (MeituanStep(),)
STEPS += (DouyinStep(),)
STEPS += (FliggyStep(),)
STEPS += (StockStep(),)
STEPS += (CrowdRuleStep(), GatesStep(), CrowdAlertStep())  # the rush raises the crowd alert
STEPS += (OutageDrillStep(),)  # its own venue and bridge: `tickethub drill outage`
STEPS += (ReconcileStep(),)  # last: the day's close
