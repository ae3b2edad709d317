"""Scoring saliency maps (the methods are ``licli.saliency``): the localisation score (``localization``,
``scoring``), the parameter-randomisation sanity check (``sanity``) and background-blur robustness (``blur``)."""
