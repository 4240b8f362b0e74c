#!/usr/bin/env python3
"""Peer of `nat bench loader`: NAT's train recipe (docs/recipe.md) in Python, two ways.

--impl timm (the default when timm imports): timm's own pipeline, as NAT's training script builds it:
timm.data.create_transform(is_training=True, auto_augment="rand-m9-mstd0.5-inc1", interpolation="random",
re_prob=0.25, re_mode="pixel", ...) and timm.data.Mixup (mixup 0.8, cutmix 1.0, switch 0.5, smoothing 0.1).
Needs Pillow < 13: timm 1.0.31's posterize (and this file's own) fails on Pillow 13 with "bits must be
between 1 and 8" (scripts/deps.sh --bench pins it).

--impl torchvision (the fallback, e.g. Debian's python3-torchvision without timm): the same steps as
nat.cpp's loader: PIL decode + convert('RGB'), RandomResizedCrop(scale 0.08-1, ratio 3/4-4/3,
bilinear or bicubic at random), horizontal flip 0.5, RandAugment rand-m9-mstd0.5-inc1 (2 ops with
replacement from the 15 "increasing" ops, each with probability 0.5, magnitude N(9, 0.5) clipped to
[0, 10], mean-pixel fill; written here from timm's documented level mappings since Debian has no timm),
ToTensor, Normalize, RandomErasing(0.25, per-pixel normal values), then batch mixup (alpha 0.8) or cutmix
(alpha 1.0) with label smoothing 0.1 folded into the soft targets.
One process, no DataLoader workers, torch.set_num_threads(1): images/s is per core.
Prints one JSON line.
"""
import argparse
import json
import os
import random
import sys
import time

import numpy as np
import PIL
import torch
import torchvision
from PIL import Image, ImageEnhance, ImageOps
from torchvision import datasets, transforms
from torchvision.transforms import functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_info import versions  # noqa: E402

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
FILL = tuple(round(255 * m) for m in MEAN)
INTERP = (Image.BILINEAR, Image.BICUBIC)


def signed(v):
    return -v if random.random() > 0.5 else v


def warp(img, coeffs):
    return img.transform(img.size, Image.AFFINE, coeffs, resample=random.choice(INTERP), fillcolor=FILL)


def enhance_factor(m):
    return max(0.1, 1.0 + signed(m / 10 * 0.9))


# Each op takes the image and a magnitude on the 0..10 scale.
OPS = [
    lambda img, m: ImageOps.autocontrast(img),
    lambda img, m: ImageOps.equalize(img),
    lambda img, m: ImageOps.invert(img),
    lambda img, m: img.rotate(signed(m / 10 * 30), resample=random.choice(INTERP), fillcolor=FILL),
    lambda img, m: ImageOps.posterize(img, 4 - int(m / 10 * 4)),
    lambda img, m: ImageOps.solarize(img, 256 - min(256, int(m / 10 * 256))),
    lambda img, m: img.point([min(255, i + min(128, int(m / 10 * 110))) if i < 128 else i for i in range(256)] * 3),
    lambda img, m: ImageEnhance.Color(img).enhance(enhance_factor(m)),
    lambda img, m: ImageEnhance.Contrast(img).enhance(enhance_factor(m)),
    lambda img, m: ImageEnhance.Brightness(img).enhance(enhance_factor(m)),
    lambda img, m: ImageEnhance.Sharpness(img).enhance(enhance_factor(m)),
    lambda img, m: warp(img, (1, signed(m / 10 * 0.3), 0, 0, 1, 0)),
    lambda img, m: warp(img, (1, 0, 0, signed(m / 10 * 0.3), 1, 0)),
    lambda img, m: warp(img, (1, 0, signed(m / 10 * 0.45) * img.size[0], 0, 1, 0)),
    lambda img, m: warp(img, (1, 0, 0, 0, 1, signed(m / 10 * 0.45) * img.size[1])),
]


class RandAugmentIncreasing:
    def __call__(self, img):
        for op in random.choices(OPS, k=2):
            if random.random() > 0.5:
                continue
            img = op(img, min(10.0, max(0.0, random.gauss(9, 0.5))))
        return img


class RandomResizedCropRandomInterp(transforms.RandomResizedCrop):
    def forward(self, img):
        i, j, h, w = self.get_params(img, self.scale, self.ratio)
        interp = random.choice((transforms.InterpolationMode.BILINEAR, transforms.InterpolationMode.BICUBIC))
        return F.resized_crop(img, i, j, h, w, self.size, interp)


def mix_batch(x, y, num_classes, smoothing=0.1):
    lam = 1.0
    if random.random() < 0.5:  # cutmix
        lam = np.random.beta(1.0, 1.0)
        H, W = x.shape[-2:]
        r = np.sqrt(1 - lam)
        ch, cw = int(H * r), int(W * r)
        cy, cx = np.random.randint(H), np.random.randint(W)
        y0, y1 = np.clip(cy - ch // 2, 0, H), np.clip(cy + ch // 2, 0, H)
        x0, x1 = np.clip(cx - cw // 2, 0, W), np.clip(cx + cw // 2, 0, W)
        x[:, :, y0:y1, x0:x1] = x.flip(0)[:, :, y0:y1, x0:x1]
        lam = 1 - (y1 - y0) * (x1 - x0) / float(H * W)
    else:
        lam = float(np.random.beta(0.8, 0.8))
        x.mul_(lam).add_(x.flip(0).mul_(1 - lam))
    off = smoothing / num_classes
    on = 1 - smoothing + off
    t1 = torch.full((len(y), num_classes), off).scatter_(1, y.view(-1, 1), on)
    t2 = torch.full((len(y), num_classes), off).scatter_(1, y.flip(0).view(-1, 1), on)
    return x, t1 * lam + t2 * (1 - lam)


def timm_pipeline(size, num_classes):
    """NAT's recipe through timm itself: (transform, batch mix function)."""
    from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, Mixup, create_transform

    tf = create_transform(size, is_training=True, color_jitter=0.4, auto_augment="rand-m9-mstd0.5-inc1",
                          interpolation="random", re_prob=0.25, re_mode="pixel", re_count=1,
                          mean=IMAGENET_DEFAULT_MEAN, std=IMAGENET_DEFAULT_STD)
    mixup = Mixup(mixup_alpha=0.8, cutmix_alpha=1.0, prob=1.0, switch_prob=0.5, mode="batch",
                  label_smoothing=0.1, num_classes=num_classes)
    return tf, mixup


def torchvision_pipeline(size, num_classes):
    tf = transforms.Compose([
        RandomResizedCropRandomInterp(size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)),
        transforms.RandomHorizontalFlip(0.5),
        RandAugmentIncreasing(),
        transforms.ToTensor(),
        transforms.Normalize(MEAN, STD),
        transforms.RandomErasing(p=0.25, value="random"),
    ])
    return tf, lambda x, y: mix_batch(x, y, num_classes)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=6)
    ap.add_argument("--impl", choices=("auto", "timm", "torchvision"), default="auto")
    a = ap.parse_args()
    torch.set_num_threads(1)
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    impl = a.impl
    if impl == "auto":
        try:
            import timm  # noqa: F401
            impl = "timm"
        except ImportError:
            impl = "torchvision"
    ds = datasets.ImageFolder(a.dir)
    nc = len(ds.classes)
    ds.transform, mix = (timm_pipeline if impl == "timm" else torchvision_pipeline)(a.size, nc)
    name = ("timm create_transform + Mixup" if impl == "timm" else "torchvision (hand-written RandAugment)")
    dl = torch.utils.data.DataLoader(ds, batch_size=a.batch, shuffle=True, drop_last=True, num_workers=0)
    it = iter(dl)
    mix(*next(it))  # warm-up
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < a.seconds:
        try:
            x, y = next(it)
        except StopIteration:
            it = iter(dl)
            continue
        mix(x, y)
        n += len(y)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({"impl": impl, "name": name, "torch": torch.__version__, "torchvision": torchvision.__version__,
                      "pil": PIL.__version__, "versions": versions(), "images": n, "seconds": wall,
                      "images_per_s": n / wall, "images_per_cpu_s": n / cpu}))


if __name__ == "__main__":
    main()
