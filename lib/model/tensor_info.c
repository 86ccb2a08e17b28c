/* ypr_model_tensor_info: a tensor's dtype, shape, values and scales through
 * a size-prefixed struct (include/yolopr.h): the library fills what fits in
 * the caller's struct_size, so programs built against an older, smaller
 * struct keep working as fields are added at its end. */
#include <string.h>

#include "model.h"

#define INFO_MAX_SIZE 65536

static int fill(const ypr_param *p, ypr_tensor_info *info)
{
    size_t size = info->struct_size;
    RETURN_IF(size < YPR_TENSOR_INFO_MIN_SIZE || size > INFO_MAX_SIZE, YPR_EINVAL,
              "tensor info: struct_size %zu outside %zu..%d (set it to sizeof(ypr_tensor_info))",
              size, (size_t)YPR_TENSOR_INFO_MIN_SIZE, INFO_MAX_SIZE);
    ypr_tensor_info t;
    memset(&t, 0, sizeof t);
    t.struct_size = size;
    t.name = p->name;
    t.ndim = p->ndim;
    for (int d = 0; d < p->ndim && d < 6; d++)
        t.shape[d] = p->shape[d];
    t.numel = p->numel;
    /* integers only while they are the float view's (a float view changed
     * without ypr__param_sync, e.g. by training, shows as F32, as it saves) */
    int quant = p->dtype != YPR_DTYPE_F32 && p->nscales > 0 && ypr__param_consistent(p);
    t.dtype = quant ? p->dtype : YPR_DTYPE_F32;
    t.fdata = p->data;
    t.data = quant ? p->q : (const void *)p->data;
    t.is_buffer = p->is_buffer;
    t.axis = quant && p->nscales > 1 ? 0 : -1;
    if (quant) {
        t.nscales = p->nscales;
        t.scale = p->scales[0];
        t.zero_point = p->zeros[0];
        t.scales = p->scales;
        t.zero_points = p->zeros;
    }
    /* the caller's bytes: ours up to its size; a newer, larger struct gets zeros past ours */
    memcpy(info, &t, size < sizeof t ? size : sizeof t);
    if (size > sizeof t)
        memset((char *)info + sizeof t, 0, size - sizeof t);
    return YPR_OK;
}

int ypr_model_tensor_info(const ypr_model *m, const char *name, ypr_tensor_info *info)
{
    RETURN_IF(!m || !name || !info, YPR_EINVAL, "model: NULL argument");
    int i = ypr__net_find_param(&m->net, name);
    if (i < 0) {
        /* check the struct first: a bad struct_size is the caller's bug either way */
        RETURN_IF(info->struct_size < YPR_TENSOR_INFO_MIN_SIZE ||
                  info->struct_size > INFO_MAX_SIZE, YPR_EINVAL,
                  "tensor info: struct_size %zu outside %zu..%d", info->struct_size,
                  (size_t)YPR_TENSOR_INFO_MIN_SIZE, INFO_MAX_SIZE);
        return ypr__error(YPR_ENOTFOUND, "model: no tensor named %s", name);
    }
    return fill(&m->net.params[i], info);
}

int ypr_model_tensor_info_at(const ypr_model *m, int i, ypr_tensor_info *info)
{
    RETURN_IF(!m || !info, YPR_EINVAL, "model: NULL argument");
    RETURN_IF(i < 0 || i >= m->net.nparams, YPR_ERANGE, "model: tensor %d outside 0..%d", i,
              m->net.nparams - 1);
    return fill(&m->net.params[i], info);
}
