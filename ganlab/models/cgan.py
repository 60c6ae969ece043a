"""Conditional DCGAN (Mirza & Osindero 2014): both networks see the class label.

Labels enter as learned embeddings, as the lecture teaches (a raw class number would make classes "close"):
G concatenates ``nn.Embedding(num_classes, embed_dim)`` to its noise; D gets the label twice, as an embedded
extra input channel and as a projection term on its features (Miyato & Koyama 2018), which keeps the
requested class sharp.

Deviations from Mirza & Osindero (2014), whose networks were MLPs with maxout and dropout that took a one-hot
label: this is the DCGAN of dcgan.py with learned label embeddings (G: concatenated to z; D: an extra input
channel) plus the projection term of Miyato & Koyama (2018) in D, which the 2014 paper does not have.
"""
from dataclasses import dataclass

import torch
from torch import nn

from .. import latent
from . import dcgan


@dataclass
class CGANConfig(dcgan.DCGANConfig):
    num_classes: int = 10
    class_names: tuple = tuple(str(i) for i in range(10))
    d_projection: bool = True       # D also scores <embed(y), features> (projection discriminator)


class Generator(dcgan.Generator):
    family = "cgan"
    display_name = "conditional DCGAN"
    config_class = CGANConfig
    always_conditional = True
    label_embedding = True

    def __init__(self, config):
        super().__init__(config)
        if self.config.num_classes < 1:
            raise ValueError("a conditional GAN needs num_classes ≥ 1.")
        self.embed = nn.Embedding(self.config.num_classes, self.config.embed_dim)

    def input_dim(self) -> int:
        return self.config.z_dim + self.config.embed_dim

    def embed_input(self, z, labels):
        return torch.cat([z, self.embed(labels)], dim=1)                       # (N, z_dim + embed_dim)

    def class_embeddings(self, classes) -> torch.Tensor:
        """G's label embeddings (K, embed_dim) of the class indices ``classes``."""
        classes = self.check_labels(list(classes), len(classes))
        return self.embed.weight[classes].detach()

    def generate_embedded(self, z, embeddings, truncation: float = 1.0):
        """Images for latents with label *embeddings* (N, embed_dim) instead of class indices, so that a
        path between two classes' embeddings morphs one class into the other."""
        z = latent.truncate_z(self.check_latents(z), truncation)
        h = self.fc(torch.cat([z, embeddings.to(z)], dim=1)).view(-1, self.config.g_channels, self.base, self.base)
        return self.deconv(h).clamp(-1, 1)


class Discriminator(dcgan.Discriminator):
    def __init__(self, config):
        super().__init__(config, in_channels=config.channels + 1)
        c = config
        self.label_map = nn.Embedding(c.num_classes, c.image_size**2)      # label → one extra input channel
        self.project = nn.Embedding(c.num_classes, c.d_fc) if c.d_projection else None  # projection term
        nn.init.normal_(self.label_map.weight, 0, 0.02)
        if self.project is not None:
            nn.init.normal_(self.project.weight, 0, 0.02)
        self.side = c.image_size

    def forward(self, x, labels=None):
        lab = self.label_map(labels).view(-1, 1, self.side, self.side)      # (N, 1, H, W)
        h = self.fc(self.conv(torch.cat([x, lab], dim=1)))                 # (N, d_fc)
        out = self.out(h).squeeze(1)                                        # (N,) logits
        return out if self.project is None else out + (h * self.project(labels)).sum(1)
