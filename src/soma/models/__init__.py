"""The model zoo: reference implementations built from ``soma.nn``, found by name.

model = soma.models.get_model("lenet5", num_classes=10, in_channels=1)
soma.models.list_models()     # {"lenet5": "LeNet-5 (LeCun 1998) …", "mlp": …}
"""

from soma.models import blocks  # noqa: E402
from soma.models.alexnet import AlexNet, alexnet  # noqa: E402
from soma.models.autoencoder import (  # noqa: E402
    ConvAutoencoder,
    DenseAutoencoder,
    autoencoder,
    denoising_autoencoder,
)
from soma.models.densenet import DenseNet, densenet121  # noqa: E402
from soma.models.diffusion import DDPM, MLPDenoiser, UNetDenoiser, ddpm  # noqa: E402
from soma.models.efficientnet import EfficientNet, efficientnet_b0  # noqa: E402
from soma.models.gan import DCGAN, DCGANDiscriminator, DCGANGenerator, dcgan  # noqa: E402
from soma.models.googlenet import GoogLeNet, googlenet  # noqa: E402
from soma.models.lenet import LeNet5  # noqa: E402
from soma.models.mlp import MLP  # noqa: E402  (importing a model registers it)
from soma.models.mobilenet import (  # noqa: E402
    MobileNetV1,
    MobileNetV2,
    mobilenet_v1,
    mobilenet_v2,
)
from soma.models.registry import ModelInfo, get_model, list_models, model_info, register_model
from soma.models.resnet import (  # noqa: E402
    ResNet,
    resnet18,
    resnet34,
    resnet50,
    resnet101,
    resnet152,
)
from soma.models.simplecnn import SimpleCNN  # noqa: E402
from soma.models.squeezenet import SqueezeNet, squeezenet1_1  # noqa: E402
from soma.models.vae import VAE, vae  # noqa: E402
from soma.models.vgg import (  # noqa: E402
    VGG,
    vgg11,
    vgg11_bn,
    vgg13,
    vgg13_bn,
    vgg16,
    vgg16_bn,
    vgg19,
    vgg19_bn,
)
from soma.models.vit import VisionTransformer  # noqa: E402

__all__ = [
    "ConvAutoencoder",
    "DCGAN",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "DDPM",
    "DenseAutoencoder",
    "MLPDenoiser",
    "UNetDenoiser",
    "VAE",
    "autoencoder",
    "dcgan",
    "ddpm",
    "denoising_autoencoder",
    "vae",
]

__all__ += [
    "AlexNet",
    "DenseNet",
    "EfficientNet",
    "GoogLeNet",
    "LeNet5",
    "MLP",
    "MobileNetV1",
    "MobileNetV2",
    "ModelInfo",
    "ResNet",
    "SimpleCNN",
    "SqueezeNet",
    "VGG",
    "VisionTransformer",
    "alexnet",
    "blocks",
    "densenet121",
    "efficientnet_b0",
    "get_model",
    "googlenet",
    "list_models",
    "mobilenet_v1",
    "mobilenet_v2",
    "model_info",
    "register_model",
    "resnet101",
    "resnet152",
    "resnet18",
    "resnet34",
    "resnet50",
    "squeezenet1_1",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
]
