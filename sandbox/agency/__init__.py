"""A simulated travel agency: signs its requests like a real agency's system would."""
