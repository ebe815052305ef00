"""The process layer: one module per flow (quote -> project, time -> invoice, milestone -> invoice, change order,
cash -> CRM), intake (pull and push into the inbox) and the runtime that wires engine, vendors and flows.
See docs/flows.md."""
