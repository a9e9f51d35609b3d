"""One package per task: ``higgs`` (signal vs background), ``cosmic`` (LArTPC cosmic removal),
``dann`` (domain adaptation studies).  How to add a task: see the recipe in :mod:`hepml`."""
