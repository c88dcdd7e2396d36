"""Export stores that talk to outside systems (Dropbox). Imports no dagster, so Hamilton can use them.

The local-folder store and the shared publishing logic live in :mod:`huracan_assets.core.publishing`;
the Dagster side wraps these in :class:`huracan_assets.resources.publisher.PublisherResource`.
"""
