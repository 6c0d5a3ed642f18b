"""The same pipeline as a program a team runs from its own environment:

python churn_cli.py --name churn-test --rows 12
"""

import argparse

from churn import pipeline

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", required=True)
    parser.add_argument("--rows", type=int, default=12)
    parser.add_argument("--pause-seconds", type=float, default=0.0)
    args = parser.parse_args()
    pipeline(args.name, args.rows, args.pause_seconds)
