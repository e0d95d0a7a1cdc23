#!/usr/bin/python3
"""Builds tests/fixtures/distill/losses.json: the distillation losses and their gradients
computed by PyTorch (autograd) on fixed inputs, as an independent check of shrink's own math.

    /usr/bin/python3 scripts/make_distill_fixtures.py [OUT_FILE]

Each case holds its inputs and options, the loss and the gradient for the student's input,
every tensor as {"shape": [...], "values": [...]}. Everything is seeded.
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests", "fixtures", "distill",
                                                        "losses.json")
torch.manual_seed(13)
torch.set_default_dtype(torch.float64)


def tensor(t):
    # 9 significant digits round-trip a float32 exactly; results carry as many.
    return {"shape": list(t.shape),
            "values": [float(f"{float(v):.9g}") for v in t.detach().reshape(-1)]}


def randn(*shape, scale=1.0):
    return (torch.randn(*shape) * scale).float().double()  # exactly representable in float32


def with_grad(x):
    return x.clone().requires_grad_(True)


def kd_case(name, student, teachers, weights, T):
    """torch's kl_div on softened outputs, batch mean, times T² (Hinton et al.)."""
    s = with_grad(student)
    target = sum(w * F.softmax(t / T, dim=1) for w, t in zip(weights, teachers))
    loss = F.kl_div(F.log_softmax(s / T, dim=1), target, reduction="batchmean") * T * T
    loss.backward()
    return {"name": name, "kind": "kd", "T": T, "student": tensor(student),
            "teachers": [tensor(t) for t in teachers], "weights": weights,
            "loss": loss.item(), "grad": tensor(s.grad)}


def attention(x, p):
    return F.normalize(x.abs().pow(p).mean(1).reshape(x.shape[0], -1), dim=1)


def attention_case(name, student, teacher, p):
    """Zagoruyko & Komodakis' at_loss; the larger map is average-pooled first (RepDistiller)."""
    s = with_grad(student)
    a, b = s, teacher
    if a.shape[2] > b.shape[2]:
        a = F.adaptive_avg_pool2d(a, b.shape[2:])
    elif b.shape[2] > a.shape[2]:
        b = F.adaptive_avg_pool2d(b, a.shape[2:])
    loss = (attention(a, p) - attention(b, p)).pow(2).mean()
    loss.backward()
    return {"name": name, "kind": "attention", "p": p, "student": tensor(student),
            "teacher": tensor(teacher), "loss": loss.item(), "grad": tensor(s.grad)}


def fsp_matrix(first, second):
    if first.dim() == 2:  # vectors: one position each
        return torch.bmm(first.unsqueeze(2), second.unsqueeze(1))
    if first.shape[2] > second.shape[2]:
        first = F.adaptive_avg_pool2d(first, second.shape[2:])
    elif second.shape[2] > first.shape[2]:
        second = F.adaptive_avg_pool2d(second, first.shape[2:])
    n, c1 = first.shape[:2]
    c2 = second.shape[1]
    a = first.reshape(n, c1, -1)
    b = second.reshape(n, c2, -1)
    return torch.bmm(a, b.transpose(1, 2)) / a.shape[2]


def fsp_case(name, first, second, teacher_first, teacher_second):
    a, b = with_grad(first), with_grad(second)
    teacher = fsp_matrix(teacher_first, teacher_second)
    loss = (fsp_matrix(a, b) - teacher).pow(2).mean()
    loss.backward()
    return {"name": name, "kind": "fsp", "first": tensor(first), "second": tensor(second),
            "teacher_first": tensor(teacher_first), "teacher_second": tensor(teacher_second),
            "loss": loss.item(), "grad_first": tensor(a.grad), "grad_second": tensor(b.grad)}


def rkd_distance(e):
    d = (e.unsqueeze(0) - e.unsqueeze(1)).norm(dim=2)
    return d / d[d > 0].mean()


def rkd_angle(e):
    v = F.normalize(e.unsqueeze(0) - e.unsqueeze(1), p=2, dim=2)  # v[i, j] = unit(e_j - e_i)
    return torch.bmm(v, v.transpose(1, 2)).reshape(-1)


def rkd_case(name, student, teacher):
    """Park et al.'s distance and angle losses (their code's smooth_l1 over all pairs/triplets)."""
    s = with_grad(student)
    distance = F.smooth_l1_loss(rkd_distance(s.flatten(1)), rkd_distance(teacher.flatten(1)))
    distance.backward()
    distance_grad = s.grad.clone()
    s.grad = None
    angle = F.smooth_l1_loss(rkd_angle(s.flatten(1)), rkd_angle(teacher.flatten(1)))
    angle.backward()
    return {"name": name, "kind": "rkd", "student": tensor(student), "teacher": tensor(teacher),
            "distance": distance.item(), "distance_grad": tensor(distance_grad),
            "angle": angle.item(), "angle_grad": tensor(s.grad)}


cases = [
    kd_case("kd T=4", randn(4, 5, scale=3), [randn(4, 5, scale=3)], [1.0], 4.0),
    kd_case("kd T=1 confident teacher", randn(3, 6), [randn(3, 6, scale=10)], [1.0], 1.0),
    kd_case("kd two teachers 0.7/0.3 T=2", randn(5, 4, scale=2),
            [randn(5, 4, scale=2), randn(5, 4, scale=2)], [0.7, 0.3], 2.0),
    attention_case("attention same size", randn(2, 3, 5, 5), randn(2, 6, 5, 5), 2.0),
    attention_case("attention p=3, teacher pooled 8x8 to 4x4", randn(2, 3, 4, 4),
                   randn(2, 5, 8, 8), 3.0),
    attention_case("attention student pooled 7x7 to 3x3", randn(3, 2, 7, 7), randn(3, 4, 3, 3), 2.0),
    fsp_case("fsp same size", randn(2, 3, 4, 4), randn(2, 5, 4, 4), randn(2, 3, 6, 6),
             randn(2, 5, 6, 6)),
    fsp_case("fsp first pooled 6x6 to 3x3", randn(2, 3, 6, 6), randn(2, 4, 3, 3),
             randn(2, 3, 5, 5), randn(2, 4, 5, 5)),
    fsp_case("fsp vectors", randn(3, 4), randn(3, 2), randn(3, 4), randn(3, 2)),
    rkd_case("rkd widths 4 and 7", randn(6, 4), randn(6, 7, scale=3)),
    rkd_case("rkd feature maps", randn(5, 2, 3, 3), randn(5, 3)),
]
os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    json.dump({"generator": "scripts/make_distill_fixtures.py", "torch": torch.__version__,
               "cases": cases}, f, separators=(",", ":"))
    f.write("\n")
print(f"wrote {len(cases)} cases to {OUT}")
