#!/usr/bin/python3
"""Oracles for tests/test_optim.c, computed with PyTorch 1.13 and NumPy
(Debian's /usr/bin/python3). Writes tests/data/optim/:

  sgd.txt, sgd.f32   torch.optim.SGD(nesterov=True) with train.py's three
                     parameter groups (pg0 no decay, pg1 decay, pg2 biases)
                     over several steps whose lr and momentum change as in
                     the warm-up. sgd.txt: `groups G`, `n n0 n1 ..`, `wd w0 w1 ..`,
                     `steps T`, then T lines `lr0 lr1 lr2 momentum`.
                     sgd.f32 (little-endian float32), per group: p0[n], then
                     per step grad[n], p_after[n], buf_after[n].
  sched.txt          train.py's warm-up + LambdaLR loop run with a real
                     optimizer and scheduler, recording each iteration's
                     lr per group, momentum and accumulate. Lines:
                     `config cosine epochs batch nb lr0 lrf momentum
                      warmup_momentum warmup_bias_lr warmup_epochs weight_decay
                      nw scaled_wd` then `it ni epoch lr0 lr1 lr2 momentum accumulate`.
  ema.txt, ema.f32   ModelEMA.decay(updates) and ModelEMA.update's float32
                     arithmetic. ema.txt: `n N`, `updates u1 u2 ..` (the
                     update counters used in order), then `decay u d` lines.
                     ema.f32: ema0[n], then per update p[n], ema_after[n].

Run from anywhere: /usr/bin/python3 tests/data/make_optim_fixture.py
"""
import math
import warnings
import os

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'optim')


def rep(x):
    return repr(float(x))


def sgd_fixture():
    g = torch.Generator().manual_seed(1234)
    sizes = [77, 515, 33]          # 515 = 32*16 + 3: vector body and scalar tail
    params = [torch.nn.Parameter(torch.randn(n, generator=g) * s)
              for n, s in zip(sizes, [1.0, 0.05, 0.3])]
    wd_scaled = 0.0005 * 24 * 3 / 64          # batch 24, accumulate 3
    opt = torch.optim.SGD([params[0]], lr=0.01, momentum=0.937, nesterov=True)
    opt.add_param_group({'params': [params[1]], 'weight_decay': wd_scaled})
    opt.add_param_group({'params': [params[2]]})
    # lr / momentum per step: the first warm-up values (bias lr falling from
    # 0.1, others rising), then a jump to post-warm-up values
    nw = 1000
    steps = []
    for ni in [0, 3, 6, 9, 1000, 1003]:
        lf = ((1 - math.cos(0 * math.pi / 300)) / 2) * (0.1 - 1) + 1
        xi = [0, nw]
        lrs = [float(np.interp(ni, xi, [0.1 if j == 2 else 0.0, 0.01 * lf])) for j in range(3)]
        m = float(np.interp(ni, xi, [0.8, 0.937]))
        steps.append((lrs, m))
    blob = {i: [params[i].detach().clone()] for i in range(3)}
    for lrs, m in steps:
        for j, x in enumerate(opt.param_groups):
            x['lr'] = lrs[j]
            x['momentum'] = m
        grads = []
        for i, p in enumerate(params):
            scale = [1.0, 0.01, 3.0][i]
            p.grad = torch.randn(p.shape, generator=g) * scale
            grads.append(p.grad.detach().clone())
        opt.step()
        for i, p in enumerate(params):
            buf = opt.state[p]['momentum_buffer']
            blob[i] += [grads[i], p.detach().clone(), buf.detach().clone()]
    with open(os.path.join(OUT, 'sgd.f32'), 'wb') as f:
        for i in range(3):
            for t in blob[i]:
                f.write(t.numpy().astype('<f4').tobytes())
    with open(os.path.join(OUT, 'sgd.txt'), 'w') as f:
        f.write('groups 3\n')
        f.write('n %s\n' % ' '.join(str(n) for n in sizes))
        f.write('wd 0.0 %s 0.0\n' % rep(wd_scaled))
        f.write('steps %d\n' % len(steps))
        for lrs, m in steps:
            f.write('%s %s\n' % (' '.join(rep(v) for v in lrs), rep(m)))


def one_cycle(y1=0.0, y2=1.0, steps=100):
    return lambda x: ((1 - math.cos(x * math.pi / steps)) / 2) * (y2 - y1) + y1


def sched_run(f, cfg_id, hyp, cosine, epochs, batch, nb):
    """train.py's optimizer / scheduler / warm-up code path, without a model."""
    nbs = 64
    hyp = dict(hyp)
    wd0 = hyp['weight_decay']
    accumulate = max(round(nbs / batch), 1)
    hyp['weight_decay'] *= batch * accumulate / nbs
    pg = [torch.nn.Parameter(torch.zeros(1)) for _ in range(3)]
    opt = torch.optim.SGD([pg[0]], lr=hyp['lr0'], momentum=hyp['momentum'], nesterov=True)
    opt.add_param_group({'params': [pg[1]], 'weight_decay': hyp['weight_decay']})
    opt.add_param_group({'params': [pg[2]]})
    if cosine:
        lf = one_cycle(1, hyp['lrf'], epochs)
    else:
        lf = lambda x: (1 - x / (epochs - 1)) * (1.0 - hyp['lrf']) + hyp['lrf']  # noqa: E731
    scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda=lf)
    nw = max(round(hyp['warmup_epochs'] * nb), 1000)
    scheduler.last_epoch = -1
    f.write('config %d %d %d %d %d %s %s %s %s %s %s %s %d %s\n' % (
        cfg_id, cosine, epochs, batch, nb, rep(hyp['lr0']), rep(hyp['lrf']), rep(hyp['momentum']),
        rep(hyp['warmup_momentum']), rep(hyp['warmup_bias_lr']), rep(hyp['warmup_epochs']),
        rep(wd0), nw, rep(hyp['weight_decay'])))
    keep = set(range(0, epochs * nb, 7)) | {nw - 1, nw, nw + 1}
    keep |= {e * nb + d for e in range(epochs) for d in (-1, 0, 1)}
    for epoch in range(epochs):
        for i in range(nb):
            ni = i + nb * epoch
            if ni <= nw:
                xi = [0, nw]
                accumulate = max(1, np.interp(ni, xi, [1, nbs / batch]).round())
                for j, x in enumerate(opt.param_groups):
                    x['lr'] = np.interp(ni, xi, [hyp['warmup_bias_lr'] if j == 2 else 0.0,
                                                 x['initial_lr'] * lf(epoch)])
                    if 'momentum' in x:
                        x['momentum'] = np.interp(ni, xi, [hyp['warmup_momentum'], hyp['momentum']])
            if ni in keep:
                g = opt.param_groups
                f.write('it %d %d %s %s %s %s %d\n' % (ni, epoch, rep(g[0]['lr']), rep(g[1]['lr']),
                                                       rep(g[2]['lr']), rep(g[0]['momentum']),
                                                       int(accumulate)))
        scheduler.step()


def sched_fixture():
    p5 = dict(lr0=0.01, lrf=0.1, momentum=0.937, weight_decay=0.0005, warmup_epochs=3.0,
              warmup_momentum=0.8, warmup_bias_lr=0.1)
    tiny = dict(p5, lrf=0.01)
    with open(os.path.join(OUT, 'sched.txt'), 'w') as f:
        sched_run(f, 0, p5, 1, 6, 24, 300)      # nw = max(900, 1000) = 1000
        sched_run(f, 1, tiny, 0, 4, 16, 400)    # linear, nw = 1200
        sched_run(f, 2, tiny, 1, 3, 8, 500)     # nw = 1500: warm-up longer than 2 epochs
        sched_run(f, 3, dict(p5, warmup_epochs=0.5, lr0=0.0123), 1, 5, 128, 240)  # acc 1


def ema_fixture():
    g = torch.Generator().manual_seed(99)
    n = 300
    decay = lambda x: 0.9999 * (1 - math.exp(-x / 2000))  # noqa: E731  (ModelEMA.decay)
    ema = torch.randn(n, generator=g)
    blobs = [ema.clone()]
    updates = [1, 2, 3, 50, 2000, 100000]
    for u in updates:
        p = torch.randn(n, generator=g) * 2
        d = decay(u)
        with torch.no_grad():
            ema *= d
            ema += (1. - d) * p
        blobs += [p.clone(), ema.clone()]
    with open(os.path.join(OUT, 'ema.f32'), 'wb') as f:
        for t in blobs:
            f.write(t.numpy().astype('<f4').tobytes())
    with open(os.path.join(OUT, 'ema.txt'), 'w') as f:
        f.write('n %d\n' % n)
        f.write('updates %s\n' % ' '.join(str(u) for u in updates))
        for u in [0, 1, 2, 7, 100, 1999, 2000, 4321, 10000, 50000, 1000000]:
            f.write('decay %d %s\n' % (u, rep(decay(u))))


if __name__ == '__main__':
    torch.set_num_threads(1)
    warnings.filterwarnings('ignore', message='Detected call of')
    os.makedirs(OUT, exist_ok=True)
    sgd_fixture()
    sched_fixture()
    ema_fixture()
