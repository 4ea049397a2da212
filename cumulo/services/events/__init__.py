"""Amazon EventBridge: event buses, rules, targets, PutEvents and scheduled rules."""
