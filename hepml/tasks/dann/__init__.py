"""Domain adaptation (DANN): source-only, DANN, control (lambda = 0) and oracle side by side on
pseudo-data, for the Higgs network (``higgs``) and the UResNet (``lartpc``); ``plots`` draws both.
"""
