"""Agreement between the starter corpus' first labels and the blind second pass.

    python scripts/starter_agreement.py    # writes data/starter/agreement.json

Uses the project's own agreement code (commentary.label.agreement).
"""

from __future__ import annotations

import json
from pathlib import Path

from commentary.codebook import load_codebook
from commentary.dataset import read_dataset
from commentary.label.agreement import pairwise_agreement
from commentary.label.io import read_labels_file

ROOT = Path(__file__).resolve().parents[1] / "data" / "starter"


def main() -> None:
    book = load_codebook()
    first = [lab for split in ("train", "dev", "test") for lab in read_dataset(ROOT / split).labels]
    second = read_labels_file(ROOT / "second_pass.jsonl", book)
    result = pairwise_agreement(first, second, book)
    out = result.to_dict()
    out["sampled_share"] = round(result.n / len(first), 3)
    (ROOT / "agreement.json").write_text(json.dumps(out, indent=2) + "\n")
    print(f"n={result.n} ({out['sampled_share']:.1%}); stance kappa {result.stance_kappa:.3f} "
          f"(raw {result.stance_agreement:.1%})")
    for theme, m in result.themes.items():
        print(f"  {theme:20s} kappa {m['kappa']:.3f}  raw {m['agreement']:.1%}  "
              f"positives {m['positives_first']}/{m['positives_second']}")


if __name__ == "__main__":
    main()
