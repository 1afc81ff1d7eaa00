"""The two Projector configurations of an export: config.json (online) and projector_config.pbtxt (TensorBoard)."""

from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple

METADATA_TSV = "metadata.tsv"
SPRITE_PNG = "sprite.png"


@dataclass(frozen=True)
class TensorFiles:
    """One tensor of the export: its ``name`` in the Projector, ``shape`` (N, D), and its
    file names (``tsv``/``bytes``, None when that format was not written)."""

    name: str
    shape: Tuple[int, int]
    tsv: Optional[str] = None
    bytes: Optional[str] = None


def base_url(host: str, port: int) -> str:
    """``http://host:port/`` (IPv6 literals in brackets): where the files will be served."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}/"


def projector_config_json(tensors: Sequence[TensorFiles], url: str, sprite_cell: int) -> Dict:
    """The standalone Projector's config: one embedding per tensor, absolute URLs under ``url``.

    The ``.bytes`` file is preferred (``tensorShape`` tells the Projector how
    to cut the Float32Array into rows); the TSV is used when it is the only one.
    """
    if not url.endswith("/"):
        url += "/"
    embeddings = []
    for tensor in tensors:
        embeddings.append(
            {
                "tensorName": tensor.name,
                "tensorShape": [int(tensor.shape[0]), int(tensor.shape[1])],
                "tensorPath": url + (tensor.bytes or tensor.tsv),
                "metadataPath": url + METADATA_TSV,
                "sprite": {"imagePath": url + SPRITE_PNG, "singleImageDim": [sprite_cell, sprite_cell]},
            }
        )
    return {"embeddings": embeddings}


def projector_config_pbtxt(tensors: Sequence[TensorFiles], sprite_cell: int) -> str:
    """TensorBoard's projector_config.pbtxt text for the tensors that have a TSV file.

    Paths are relative to the pbtxt's own folder, which is how the plugin
    resolves them.
    """
    from google.protobuf import text_format
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    config = ProjectorConfig()
    for tensor in tensors:
        if tensor.tsv is None:
            continue
        embedding = config.embeddings.add()
        embedding.tensor_name = tensor.name
        embedding.tensor_path = tensor.tsv
        embedding.tensor_shape.extend([int(tensor.shape[0]), int(tensor.shape[1])])
        embedding.metadata_path = METADATA_TSV
        embedding.sprite.image_path = SPRITE_PNG
        embedding.sprite.single_image_dim.extend([sprite_cell, sprite_cell])
    return text_format.MessageToString(config)
