"""The paper's CNN baselines for the 1 x 10 x t median matrix (METHOD.md "CropNet": "Baselines").

ResNet50, EfficientNetV2-S and ConvNeXt-Tiny, written here from their papers' layer tables (He et al.
2016; Tan & Le 2021; Liu et al. 2022), with the downsampling reduced for an input only 10 bands high:
the stems keep full resolution and only two stages halve it (10 x 43 -> 5 x 22 -> 3 x 11), where the
ImageNet versions divide by 32. One input channel, 7 outputs. Parameter counts (paper in brackets):
ResNet50 23.52 M (23.57 M), EfficientNetV2-S 20.19 M (20.24 M), ConvNeXt-Tiny 27.82 M (27.85 M);
the small gaps come from the stems (the paper does not give its exact stems).

Like CropNet, each model normalizes per band inside ``forward`` (``models.normalization``), so callers
feed raw reflectance (DN / 1e4) of shape (N, 1, 10, t) and get logits (N, 7). ``models.registry``
registers each of them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from gee_crop.classes import CLASSES
from gee_crop.models.normalization import NormalizedModel
from gee_crop.sensors import SENTINEL2


class _BandNormalized(NormalizedModel):
    """Per-band normalization of (N, 1, bands, t) reflectance, then ``body``, then a linear head."""

    def __init__(
        self,
        body: nn.Module,
        n_features: int,
        n_bands: int,
        n_classes: int,
        head_norm: nn.Module | None = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__(n_bands, axis=-2)
        self.body = body
        self.head_norm = head_norm if head_norm is not None else nn.Identity()
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(n_features, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = nn.functional.adaptive_avg_pool2d(self.body(self.normalization(x)), 1).flatten(1)
        return self.classifier(self.dropout(self.head_norm(pooled)))


# ---------------------------------------------------------------- ResNet50 (bottleneck, 3-4-6-3)
class _Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, c_in: int, width: int, stride: int) -> None:
        super().__init__()
        c_out = width * self.expansion
        self.main = nn.Sequential(
            nn.Conv2d(c_in, width, 1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
        )
        self.shortcut = (
            nn.Identity()
            if stride == 1 and c_in == c_out
            else nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))
        )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.main(x) + self.shortcut(x))


def resnet50(
    n_bands: int = len(SENTINEL2.bands), n_classes: int = len(CLASSES), strides: Sequence[int] = (1, 2, 2, 1)
) -> _BandNormalized:
    """ResNet50: 7x7 stem at stride 1 without max-pooling (ImageNet: stride 4), stages 3-4-6-3."""
    layers: list[nn.Module] = [nn.Conv2d(1, 64, 7, padding=3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True)]
    c_in = 64
    for width, depth, stride in zip((64, 128, 256, 512), (3, 4, 6, 3), strides):
        for i in range(depth):
            layers.append(_Bottleneck(c_in, width, stride if i == 0 else 1))
            c_in = width * _Bottleneck.expansion
    return _BandNormalized(nn.Sequential(*layers), c_in, n_bands, n_classes)


# ---------------------------------------------------------------- EfficientNetV2-S
def _conv_bn_act(
    c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1, act: bool = True
) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(c_out, eps=1e-3),
        *([nn.SiLU(inplace=True)] if act else []),
    ]


class _SqueezeExcite(nn.Module):
    def __init__(self, channels: int, squeeze: int) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(channels, squeeze, 1)
        self.expand = nn.Conv2d(squeeze, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = nn.functional.adaptive_avg_pool2d(x, 1)
        return x * torch.sigmoid(self.expand(nn.functional.silu(self.reduce(scale))))


class _MBConv(nn.Module):
    """(Fused-)MBConv: expansion (3x3 conv when fused, else 1x1 + depthwise 3x3), SE, 1x1 projection."""

    def __init__(self, c_in: int, c_out: int, expand: int, stride: int, fused: bool, se: bool) -> None:
        super().__init__()
        hidden = c_in * expand
        if fused:
            layers = (
                _conv_bn_act(c_in, c_out, 3, stride)
                if expand == 1
                else [*_conv_bn_act(c_in, hidden, 3, stride), *_conv_bn_act(hidden, c_out, 1, act=False)]
            )
        else:
            layers = [*_conv_bn_act(c_in, hidden, 1), *_conv_bn_act(hidden, hidden, 3, stride, groups=hidden)]
            if se:
                layers.append(_SqueezeExcite(hidden, max(1, c_in // 4)))
            layers += _conv_bn_act(hidden, c_out, 1, act=False)
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return out + x if self.residual else out


#: (fused, expand, stride, out channels, layers) per stage; strides reduced from 2-2-2-1-2 to 2-1-2-1-1.
EFFICIENTNET_V2_S_STAGES = (
    (True, 1, 1, 24, 2),
    (True, 4, 2, 48, 4),
    (True, 4, 1, 64, 4),
    (False, 4, 2, 128, 6),
    (False, 6, 1, 160, 9),
    (False, 6, 1, 256, 15),
)


def efficientnet_v2_s(
    n_bands: int = len(SENTINEL2.bands), n_classes: int = len(CLASSES), dropout: float = 0.2
) -> _BandNormalized:
    """EfficientNetV2-S: stem 3x3 at stride 1 (ImageNet: 2), six (Fused-)MBConv stages, 1x1 head to 1280."""
    layers: list[nn.Module] = list(_conv_bn_act(1, 24, 3))
    c_in = 24
    for fused, expand, stride, c_out, depth in EFFICIENTNET_V2_S_STAGES:
        for i in range(depth):
            layers.append(_MBConv(c_in, c_out, expand, stride if i == 0 else 1, fused, se=not fused))
            c_in = c_out
    layers += _conv_bn_act(c_in, 1280, 1)
    return _BandNormalized(nn.Sequential(*layers), 1280, n_bands, n_classes, dropout=dropout)


# ---------------------------------------------------------------- ConvNeXt-Tiny
class _ChannelsFirstLayerNorm(nn.Module):
    """LayerNorm over the channel axis of (N, C, H, W)."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class _ConvNeXtBlock(nn.Module):
    """Depthwise 7x7, LayerNorm, 4x inverted MLP with GELU, layer scale, residual."""

    def __init__(self, channels: int, layer_scale: float = 1e-6) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(channels, channels, 7, padding=3, groups=channels)
        self.norm = nn.LayerNorm(channels, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(channels, 4 * channels), nn.GELU(), nn.Linear(4 * channels, channels))
        self.gamma = nn.Parameter(torch.full((channels,), layer_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.mlp(self.norm(self.dwconv(x).permute(0, 2, 3, 1))) * self.gamma
        return x + y.permute(0, 3, 1, 2)


def convnext_tiny(
    n_bands: int = len(SENTINEL2.bands), n_classes: int = len(CLASSES), strides: Sequence[int] = (2, 2, 1)
) -> _BandNormalized:
    """ConvNeXt-Tiny (depths 3-3-9-3, widths 96-192-384-768): stem 3x3 at stride 1 (ImageNet: 4x4
    patchify at stride 4); 2x2 downsampling convs between stages, the last one at stride 1."""
    dims, depths = (96, 192, 384, 768), (3, 3, 9, 3)
    layers: list[nn.Module] = [nn.Conv2d(1, dims[0], 3, padding=1), _ChannelsFirstLayerNorm(dims[0])]
    for stage, (dim, depth) in enumerate(zip(dims, depths)):
        if stage:
            stride = strides[stage - 1]
            # a 2x2 kernel at stride 1 keeps the size with one replicated row/column on one side
            pad = [] if stride == 2 else [nn.ReplicationPad2d((0, 1, 0, 1))]
            layers += [
                _ChannelsFirstLayerNorm(dims[stage - 1]),
                *pad,
                nn.Conv2d(dims[stage - 1], dim, 2, stride=stride),
            ]
        layers += [_ConvNeXtBlock(dim) for _ in range(depth)]
    return _BandNormalized(
        _Pad2(nn.Sequential(*layers)), dims[-1], n_bands, n_classes, head_norm=nn.LayerNorm(dims[-1], eps=1e-6)
    )


class _Pad2(nn.Module):
    """Pads H and W to even sizes before ``body`` so 2x2 stride-2 downsampling covers every bin."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # replicate padding: the padded bin repeats the season's last window instead of inventing zeros
        pad_w, pad_h = (-x.shape[-1]) % 4, (-x.shape[-2]) % 4
        if pad_w or pad_h:
            x = nn.functional.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        return self.body(x)
