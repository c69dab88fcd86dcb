"""What the classification and outlier benchmarks share: the command line, the records of
each set as JSON lines, and the tables printed from them (also from a saved file)."""

import argparse
import json
import platform
import time

import numpy as np
from threadpoolctl import threadpool_limits


def main(doc, sets, run, table, add_arguments=None, argv=None):
    """Run ``run(name, args)`` for each chosen set, save the records, print ``table(records)``.

    ``--print FILE`` prints the table of saved records instead. Every method runs with one
    BLAS/OpenMP thread (the machines are shared).
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    if add_arguments is not None:
        add_arguments(parser)
    parser.add_argument("--sets", nargs="+", default=list(sets), choices=sets)
    parser.add_argument("--out", default=None, help="write the records here (JSON lines)")
    parser.add_argument("--print", dest="show", default=None, help="print the tables of a records file")
    args = parser.parse_args(argv)
    if args.show:
        with open(args.show) as f:
            print(table([json.loads(line) for line in f]))
        return
    print(f"# {doc.splitlines()[0]}\n\n{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"{platform.processor() or platform.machine()}, numpy {np.__version__}, one BLAS thread\n",
          flush=True)
    records = []
    with threadpool_limits(1):
        for name in args.sets:
            records += run(name, args)
            if args.out:
                with open(args.out, "w") as f:
                    f.writelines(json.dumps(r) + "\n" for r in records)
    print(table(records))
