"""The one error of the artifact bundles."""


class BundleError(RuntimeError):
    """A bundle could not be built, or does not match its manifest."""
