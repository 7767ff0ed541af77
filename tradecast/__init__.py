"""The ``tradecast`` command line: one thin sub-command per job."""
