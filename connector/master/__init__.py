"""The customer master: bindings, identity, classification, credit terms, audit trail."""
