"""Vision Transformer (Dosovitskiy et al., 2020): an image read as a sequence of patches.

    image C×H×W
    conv_proj       P×P convolution with stride P: one dim-vector per patch → (H/P)·(W/P) tokens
    class_token     a learned token put in front of the patch tokens
    pos_embedding   a learned vector added to each position
    encoder         depth pre-norm Transformer encoder layers (self-attention + GELU MLP)
    ln, heads.head  final LayerNorm, then a Linear classifier on the class token

Names follow torchvision's ``VisionTransformer`` where the structure is the same
(``conv_proj``, ``class_token``, ``encoder.pos_embedding``, ``encoder.ln``, ``heads.head``);
the encoder layers are soma's ``TransformerEncoderLayer`` (``norm_first=True``, GELU).
"""

import math
from collections import OrderedDict

from soma import nn
from soma.autograd.factory import zeros
from soma.functional.shape import cat, expand, flatten, transpose
from soma.models.registry import register_model


class ViTEncoder(nn.Module):
    """Position embeddings, dropout, the stack of encoder layers and a final LayerNorm."""

    def __init__(
        self,
        seq_length: int,
        depth: int,
        heads: int,
        dim: int,
        mlp_dim: int,
        dropout: float,
        attention_dropout: float,
    ):
        super().__init__()
        self.pos_embedding = nn.Parameter(zeros(1, seq_length, dim))
        nn.init.normal_(self.pos_embedding, std=0.02)
        self.dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(
            dim,
            heads,
            mlp_dim,
            dropout=dropout,
            activation="gelu",
            layer_norm_eps=1e-6,
            batch_first=True,
            norm_first=True,
        )
        layer.self_attn.dropout = attention_dropout
        self.layers = nn.TransformerEncoder(layer, depth)
        self.ln = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, tokens):
        return self.ln(self.layers(self.dropout(tokens + self.pos_embedding)))


class VisionTransformer(nn.Module):
    """ViT classifier: patch embedding by a strided convolution, class token, encoder, head.

    Args:
        image_size: side of the (square) input images; a multiple of ``patch_size``.
        patch_size: side of each square patch.
        in_channels: image channels.
        num_classes: outputs of the classification head.
        dim: features per token.
        depth: encoder layers.
        heads: attention heads per layer.
        mlp_dim: hidden size of each layer's MLP.
        dropout: dropout after the position embeddings and inside the layers.
        attention_dropout: dropout on the attention weights.

    Shape:
        input (N, in_channels, image_size, image_size) → logits (N, num_classes).

    Example:
        >>> import soma
        >>> vit = VisionTransformer(image_size=8, patch_size=2, in_channels=1, num_classes=10,
        ...                         dim=16, depth=2, heads=2, mlp_dim=32)
        >>> vit(soma.randn(3, 1, 8, 8)).shape
        soma.Size([3, 10])
    """

    def __init__(
        self,
        image_size: int = 32,
        patch_size: int = 4,
        in_channels: int = 3,
        num_classes: int = 10,
        dim: int = 64,
        depth: int = 4,
        heads: int = 4,
        mlp_dim: int = 128,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
    ):
        super().__init__()
        if image_size % patch_size:
            raise ValueError(
                f"VisionTransformer: image_size {image_size} is not a multiple of "
                f"patch_size {patch_size}"
            )
        self.image_size, self.patch_size, self.in_channels = image_size, patch_size, in_channels
        self.dim, self.num_classes = dim, num_classes
        self.conv_proj = nn.Conv2d(in_channels, dim, kernel_size=patch_size, stride=patch_size)
        self.class_token = nn.Parameter(zeros(1, 1, dim))
        seq_length = (image_size // patch_size) ** 2 + 1
        self.encoder = ViTEncoder(
            seq_length, depth, heads, dim, mlp_dim, dropout, attention_dropout
        )
        self.heads = nn.Sequential(OrderedDict(head=nn.Linear(dim, num_classes)))
        self._init_weights()

    def _init_weights(self, generator=None) -> None:
        """torchvision's choices: fan-in truncated normal patch embedding, zero head."""
        fan_in = self.in_channels * self.patch_size**2
        nn.init.trunc_normal_(
            self.conv_proj.weight, std=math.sqrt(1 / fan_in), generator=generator
        )
        nn.init.zeros_(self.conv_proj.bias)
        nn.init.zeros_(self.heads.head.weight)
        nn.init.zeros_(self.heads.head.bias)

    def _patch_tokens(self, x):
        """(N, C, H, W) → (N, patches, dim) by the strided convolution."""
        expected = (self.in_channels, self.image_size, self.image_size)
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"expected images of shape (N, {', '.join(map(str, expected))}), "
                f"got {tuple(x.shape)}"
            )
        return transpose(flatten(self.conv_proj(x), 2), 1, 2)

    def forward(self, x):
        tokens = self._patch_tokens(x)
        cls = expand(self.class_token, (tokens.shape[0], 1, self.dim))
        encoded = self.encoder(cat([cls, tokens], 1))
        return self.heads(encoded[:, 0])


@register_model(
    "vit_tiny",
    "Vision Transformer, tiny (32×32 input, 4×4 patches, dim 64, depth 4)",
    input_size=(32, 32),
)
def vit_tiny(num_classes: int = 10, in_channels: int = 3, **kwargs) -> VisionTransformer:
    """A small ViT for 32×32 images (CIFAR-sized, or digits resized)."""
    return VisionTransformer(
        image_size=32,
        patch_size=4,
        in_channels=in_channels,
        num_classes=num_classes,
        dim=64,
        depth=4,
        heads=4,
        mlp_dim=128,
        **kwargs,
    )


@register_model(
    "vit_b_16", "ViT-Base/16 (224×224 input, dim 768, depth 12, 12 heads)", input_size=(224, 224)
)
def vit_b_16(num_classes: int = 1000, in_channels: int = 3, **kwargs) -> VisionTransformer:
    """ViT-B/16 with torchvision's configuration (86 M parameters: slow on NumPy)."""
    return VisionTransformer(
        image_size=224,
        patch_size=16,
        in_channels=in_channels,
        num_classes=num_classes,
        dim=768,
        depth=12,
        heads=12,
        mlp_dim=3072,
        **kwargs,
    )
