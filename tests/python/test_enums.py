"""The binding's hand-written enum tables against include/yolopr.h: every value
the binding mirrors must equal the header's, and every value of each mirrored
family must be there (a setting added to the header and forgotten here fails).
Run by meson with Debian's /usr/bin/python3; YOLOPR_LIBRARY names the built
library (importing the binding loads it) and YPR_HEADER the public header."""
import os
import re
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "examples", "python"))
import yolopr  # noqa: E402

HEADER = os.environ.get("YPR_HEADER", os.path.join(ROOT, "include", "yolopr.h"))


def read_header():
    with open(HEADER, encoding="utf-8") as f:
        return f.read()


def parse_enums(text):
    """{enum type name: {value name: int}} for every `typedef enum NAME {…}`,
    plus "ypr_status" from the YPR_ERROR_LIST X-macro."""
    body = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    enums = {}
    for m in re.finditer(r"typedef\s+enum\s+(\w+)\s*\{(.*?)\}\s*\w+\s*;", body, re.S):
        if "YPR_ERROR_LIST" in m.group(2):   # ypr_status: read from the list below
            continue
        values = {}
        for item in m.group(2).split(","):
            item = item.strip()
            if not item:
                continue
            im = re.fullmatch(r"(YPR_\w+)\s*=\s*(-?\d+)", item)
            if im is None:
                raise AssertionError("%s: cannot read enumerator %r (values must be explicit)"
                                     % (m.group(1), item))
            values[im.group(1)] = int(im.group(2))
        enums[m.group(1)] = values
    status = {name: int(v) for name, v in re.findall(r"X\((YPR_\w+),\s*(-?\d+),", body)}
    enums["ypr_status"] = status
    return enums


# Module constants: header family, header prefix, binding prefix. A header
# value YPR_<hp><NAME> is the binding's <bp><NAME>.
CONSTANTS = [
    ("ypr_status", "YPR_", ""),
    ("ypr_model_setting", "YPR_MODEL_", ""),
    ("ypr_eval_setting", "YPR_EVAL_", "EVAL_"),
    ("ypr_eval_value", "YPR_EVAL_", "EVAL_"),
    ("ypr_prune_setting", "YPR_PRUNE_", "PRUNE_"),
    ("ypr_train_setting", "YPR_TRAIN_", "TRAIN_"),
    ("ypr_train_value", "YPR_TV_", "TV_"),
    ("ypr_quant_setting", "YPR_QUANT_", "QUANT_"),
    ("ypr_export_flag", "YPR_EXPORT_", "EXPORT_"),
]
# Name → value tables: binding dict, header family, header prefix, aliases.
TABLES = [
    ("CRITERIA", "ypr_criterion", "YPR_CRITERION_", {"bn": "bn_scale"}),
    ("REDUCTIONS", "ypr_reduction", "YPR_REDUCE_", {}),
    ("NORMALIZERS", "ypr_normalizer", "YPR_NORM_", {}),
    ("LOSSES", "ypr_train_loss", "YPR_LOSS_", {}),
    ("HYP_PRESETS", "ypr_hyp_preset", "YPR_HYP_", {"p5": "scratch_p5", "tiny": "scratch_tiny"}),
    ("REGULARIZERS", "ypr_regularizer", "YPR_REG_", {"bn": "bn_l1", "group": "group_norm"}),
    ("SCHEMES", "ypr_quant_scheme", "YPR_QSCHEME_", {"per-channel": "per_channel"}),
    ("CALIB_METHODS", "ypr_calib_method", "YPR_CALIB_", {}),
    ("DTYPES", "ypr_dtype", "YPR_DTYPE_", {}),
]


class EnumTablesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.text = read_header()
        cls.enums = parse_enums(cls.text)

    def family(self, name):
        self.assertIn(name, self.enums, "%s: no such enum in %s" % (name, HEADER))
        values = self.enums[name]
        self.assertTrue(values, "%s: no values parsed" % name)
        return values

    def test_parser_reads_the_header(self):
        # hand-checked anchors, so a parser that reads nothing cannot pass
        self.assertEqual(self.enums["ypr_status"]["YPR_EINVAL"], -1)
        self.assertEqual(self.enums["ypr_prune_setting"]["YPR_PRUNE_RATIO"], 200)
        self.assertEqual(self.enums["ypr_eval_setting"]["YPR_EVAL_CONF_THRESHOLD"], 400)
        self.assertEqual(self.enums["ypr_train_setting"]["YPR_TRAIN_EPOCHS"], 300)
        self.assertEqual(self.enums["ypr_status"]["YPR_ENONFINITE"], -12)

    def test_constants(self):
        for fam, hp, bp in CONSTANTS:
            for cname, value in self.family(fam).items():
                pyname = bp + cname[len(hp):]
                with self.subTest(header=cname, binding=pyname):
                    self.assertTrue(hasattr(yolopr, pyname),
                                    "yolopr.%s missing (header %s = %d)" % (pyname, cname, value))
                    self.assertEqual(getattr(yolopr, pyname), value,
                                     "yolopr.%s != %s" % (pyname, cname))

    def test_no_stale_constants(self):
        # every EVAL_*/PRUNE_*/TRAIN_*/TV_* constant of the binding names a header value
        known = {bp + c[len(hp):] for fam, hp, bp in CONSTANTS if bp
                 for c in self.family(fam)}
        for name in dir(yolopr):
            if re.fullmatch(r"(EVAL|PRUNE|TRAIN|TV|QUANT|EXPORT)_[A-Z0-9_]+", name) and name != "TRAIN_VALUES":
                with self.subTest(binding=name):
                    self.assertIn(name, known, "yolopr.%s is not in the header" % name)

    def test_tables(self):
        for table, fam, hp, aliases in TABLES:
            values = self.family(fam)
            mapping = getattr(yolopr, table)
            for key, value in mapping.items():
                cname = hp + aliases.get(key, key).upper()
                with self.subTest(table=table, key=key):
                    self.assertIn(cname, values, "%s[%r]: no %s in the header" % (table, key, cname))
                    self.assertEqual(value, values[cname], "%s[%r] != %s" % (table, key, cname))
            for cname, value in values.items():
                with self.subTest(table=table, header=cname):
                    self.assertIn(cname[len(hp):].lower(), mapping,
                                  "%s lacks %s = %d" % (table, cname, value))

    def test_train_value_names(self):
        # TRAIN_VALUES[i] names ypr_train_value i (the names Trainer's dicts use)
        values = self.family("ypr_train_value")
        for i, name in enumerate(yolopr.TRAIN_VALUES):
            with self.subTest(index=i, name=name):
                self.assertEqual(values["YPR_TV_" + name.upper()], i)
        self.assertEqual(len(yolopr.TRAIN_VALUES), values["YPR_TV_COUNT_"])

    def test_metric_names(self):
        # YPR_EVAL_METRIC is documented as "0 YOLOv7's matching (default), 1 COCO's"
        m = re.search(r"YPR_EVAL_METRIC\s*=\s*\d+,\s*/\*\*<([^*]*)\*/", self.text)
        self.assertIsNotNone(m, "YPR_EVAL_METRIC's comment not found")
        documented = {name.lower(): int(v) for v, name in re.findall(r"(\d+) (\w+)'s", m.group(1))}
        self.assertEqual(yolopr.METRICS, documented)


if __name__ == "__main__":
    unittest.main(verbosity=2)
