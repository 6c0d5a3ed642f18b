"""A Workbench pipeline as a team writes it: the real `workbench` package, nothing of the harness.

    python pipeline.py --name churn-1 --rows 100

DataSource from a CSV, a FeatureSet, an XGBoost regression Model, a serverless Endpoint,
inference on a few rows, then everything deleted. Workbench reads its account from the
environment (WORKBENCH_BUCKET, WORKBENCH_ROLE) and AWS's (AWS_DEFAULT_REGION, credentials).
`--name` keeps each run's artifacts apart, so many can run at once.
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from workbench.api import DataSource, Endpoint, FeatureSet, Model, ModelFramework, ModelType

FEATURES = ["length", "diameter", "height", "whole_weight", "shell_weight"]
TARGET = "class_number_of_rings"


def abalone_like(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = pd.DataFrame(
        {
            "sex": rng.choice(["M", "F", "I"], rows),
            "length": rng.uniform(0.1, 0.8, rows).round(3),
            "diameter": rng.uniform(0.1, 0.6, rows).round(3),
            "height": rng.uniform(0.0, 0.3, rows).round(3),
            "whole_weight": rng.uniform(0.0, 2.5, rows).round(4),
            "shell_weight": rng.uniform(0.0, 1.0, rows).round(4),
        }
    )
    data[TARGET] = (3 + 20 * data["shell_weight"] + rng.normal(0, 1, rows)).round().astype(int)
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", required=True, help="what this run's artifacts are named after")
    parser.add_argument("--rows", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="do not delete what it made")
    args = parser.parse_args()

    snake = "".join(c if c.isalnum() else "_" for c in args.name.lower())
    kebab = snake.replace("_", "-")
    data = abalone_like(args.rows, args.seed)
    csv = Path(tempfile.mkdtemp()) / f"{snake}.csv"
    data.to_csv(csv, index=False)

    source = DataSource(str(csv), name=f"{snake}_data")
    features = source.to_features(f"{snake}_features", id_column="auto")
    model = features.to_model(
        f"{kebab}-regression",
        model_type=ModelType.REGRESSOR,
        model_framework=ModelFramework.XGBOOST,
        target_column=TARGET,
        feature_list=FEATURES,
    )
    endpoint = model.to_endpoint(f"{kebab}-end", serverless=True)
    predictions = endpoint.inference(data.head(5))
    if "prediction" not in predictions.columns or len(predictions) != 5:
        raise SystemExit(f"inference answered {list(predictions.columns)} for 5 rows")
    print(predictions[[TARGET, "prediction"]].to_string())

    if not args.keep:
        Endpoint(f"{kebab}-end").delete()
        Model(f"{kebab}-regression").delete()
        FeatureSet(f"{snake}_features").delete()
        DataSource(f"{snake}_data").delete()


if __name__ == "__main__":
    main()
