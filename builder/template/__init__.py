"""Templates: JSON with positions, user variables, and the {{ }} language."""

HCL2_SUFFIXES = (".pkr.hcl", ".pkr.json")


def is_hcl2(path: str) -> bool:
    """Whether a template path is read as HCL2: a *.pkr.hcl / *.pkr.json file or a directory.

    Here, not in the hcl2 package, so a JSON template never imports the HCL2 front end.
    """
    import os

    return path.endswith(HCL2_SUFFIXES) or (path != "-" and os.path.isdir(path))
