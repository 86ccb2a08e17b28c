/* Initialization as PyTorch and YOLOv7 do it, from a seed: conv weights and
 * biases uniform in ±1/√fan_in (kaiming_uniform with a = √5), BatchNorm
 * γ = 1, β = 0, running mean 0 and variance 1, ImplicitA ~ N(0, 0.02),
 * ImplicitM ~ N(1, 0.02), and the detect head's bias priors: objectness
 * += log(8 / (640 / stride)²), classes += log(0.6 / (nc − 0.99)). */
#include <math.h>
#include <string.h>

#include "model.h"

static void fill_uniform(ypr_rng *r, float *x, int64_t n, float bound)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = (2.0f * ypr__rng_uniform(r) - 1.0f) * bound;
}

void ypr__yolo_init(ypr_net *net, uint64_t seed)
{
    ypr_rng r;
    ypr__rng_seed(&r, seed);
    for (int i = 0; i < net->nnodes; i++) {
        ypr_node *nd = &net->nodes[i];
        switch (nd->kind) {
        case YPR_NODE_CONV: {
            ypr_param *w = &net->params[nd->p[0]];
            int64_t fan_in = w->shape[1] * w->shape[2] * w->shape[3];
            float bound = 1.0f / sqrtf((float)fan_in);
            fill_uniform(&r, w->data, w->numel, bound);
            if (nd->p[1] >= 0)
                fill_uniform(&r, net->params[nd->p[1]].data, nd->c, bound);
            break;
        }
        case YPR_NODE_BN:
            for (int64_t k = 0; k < nd->c; k++) {
                net->params[nd->p[0]].data[k] = 1.0f;
                net->params[nd->p[1]].data[k] = 0.0f;
                net->params[nd->p[2]].data[k] = 0.0f;
                net->params[nd->p[3]].data[k] = 1.0f;
            }
            break;
        case YPR_NODE_IMPLICIT_ADD:
        case YPR_NODE_IMPLICIT_MUL: {
            float mean = nd->kind == YPR_NODE_IMPLICIT_MUL ? 1.0f : 0.0f;
            ypr_param *p = &net->params[nd->p[0]];
            for (int64_t k = 0; k < p->numel; k++)
                p->data[k] = mean + 0.02f * ypr__rng_normal(&r);
            break;
        }
        case YPR_NODE_DETECT: {
            int no = nd->nc + 5;
            for (int l = 0; l < nd->nl; l++) {
                /* the head conv of level l: walk back through an implicit multiply */
                int h = nd->inputs[l];
                if (net->nodes[h].kind == YPR_NODE_IMPLICIT_MUL)
                    h = net->nodes[h].inputs[0];
                if (net->nodes[h].kind != YPR_NODE_CONV || net->nodes[h].p[1] < 0)
                    continue;
                float *b = net->params[net->nodes[h].p[1]].data;
                float s = nd->strides[l] > 0 ? nd->strides[l] : 8.0f;
                float obj = logf(8.0f / ((640.0f / s) * (640.0f / s)));
                float cls = logf(0.6f / ((float)nd->nc - 0.99f));
                for (int a = 0; a < nd->na; a++) {
                    b[a * no + 4] += obj;
                    for (int k = 5; k < no; k++)
                        b[a * no + k] += cls;
                }
            }
            break;
        }
        default:
            break;
        }
    }
    net->version++;
}
