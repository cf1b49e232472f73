"""Configuration: the service model (`service`), FDL files (`fdl`) and runtime settings (`settings`).

Import from the submodules: this package stays empty so that the supervisor's
start-up only loads what an invocation needs (the FDL parser is not).
"""
