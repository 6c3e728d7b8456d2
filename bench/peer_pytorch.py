"""The same Ada-DF steps in PyTorch, as the peer of bench/train_step.ts.

Prints one JSON line per case: {"case", "stepSeconds", "imagesPerSecond", "threads", "torch"}.
Usage: python3 bench/peer_pytorch.py --backbone resnet18 --size 112 --batch 16 --steps 3 --threads 1 \
           --cases train,infer

With --serve it builds the model once, then reads a case name per line from stdin, runs one step of it
and prints {"case", "seconds", "threads", "torch"}: the bench alternates these steps with its own, so that
both see the same machine load.
"""
import argparse
import copy
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision


class AdaDF(nn.Module):
    def __init__(self, backbone: str, num_classes: int):
        super().__init__()
        net = getattr(torchvision.models, backbone)()
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1)
        for p in self.stem.parameters():
            p.requires_grad = False
        branch = nn.Sequential(net.layer2, net.layer3, net.layer4, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        features = net.fc.in_features
        self.branch1, self.branch2 = branch, copy.deepcopy(branch)
        self.fc1, self.fc2 = nn.Linear(features, num_classes), nn.Linear(features, num_classes)
        self.att1, self.att2 = nn.Linear(features, 1), nn.Linear(features, 1)

    def forward(self, x):
        f = self.stem(x)
        h1, h2 = self.branch1(f), self.branch2(f)
        a1, a2 = torch.sigmoid(self.att1(h1)), torch.sigmoid(self.att2(h2))
        return a1 * self.fc1(h1), a2 * self.fc2(h2), ((a1 + a2) / 2).squeeze(1)


def objective(z1, z2, w, labels, class_dist, epoch=1, beta=3, ratio=0.7, margin=0.07):
    b = z1.shape[0]
    alpha1 = torch.exp(torch.tensor(-(1 - min(epoch, beta) / beta) ** 2)) if epoch <= beta else 1.0
    alpha2 = 1.0 if epoch <= beta else float(torch.exp(torch.tensor(-(1 - beta / epoch) ** 2)))
    ce = F.cross_entropy(z1, labels)
    wn = (w - w.min()) / (w.max() - w.min() + 1e-12) * 0.8 + 0.2
    fused = (1 - wn[:, None]) * F.softmax(z1, 1) + wn[:, None] * class_dist[labels]
    kl = nn.KLDivLoss(reduction="none")(F.log_softmax(z2, 1), fused).sum() / b
    top = int(b * ratio)
    hi = torch.topk(w, top).indices
    lo = torch.topk(w, b - top, largest=False).indices
    rr = torch.clamp(margin - (w[hi].mean() - w[lo].mean()), min=0)
    return alpha2 * ce + alpha1 * kl + rr


def median_time(fn, steps):
    fn()  # warm-up
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--backbone", default="resnet18")
    p.add_argument("--size", type=int, default=112)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--cases", default="train,infer")
    p.add_argument("--serve", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = AdaDF(args.backbone, 7)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    x = torch.randn(args.batch, 3, args.size, args.size)
    labels = torch.arange(args.batch) % 7
    class_dist = torch.full((7, 7), 0.3 / 6).fill_diagonal_(0.7)

    def train():
        model.train()
        opt.zero_grad()
        z1, z2, w = model(x)
        objective(z1, z2, w, labels, class_dist).backward()
        opt.step()

    def infer():
        model.eval()
        with torch.no_grad():
            f = model.stem(x)
            h = model.branch2(f)
            (torch.sigmoid(model.att2(h)) * model.fc2(h)).argmax(1)

    if args.serve:
        steps = {"train": train, "infer": infer}
        for line in sys.stdin:
            case = line.strip()
            if not case:
                continue
            t = time.perf_counter()
            steps[case]()
            seconds = time.perf_counter() - t
            print(json.dumps({"case": case, "seconds": seconds, "threads": args.threads,
                              "torch": torch.__version__}), flush=True)
        return

    for case in args.cases.split(","):
        seconds = median_time(train if case == "train" else infer, args.steps)
        print(json.dumps({
            "case": case,
            "stepSeconds": round(seconds, 4),
            "imagesPerSecond": round(args.batch / seconds, 3),
            "threads": args.threads,
            "torch": torch.__version__,
        }))


if __name__ == "__main__":
    main()
