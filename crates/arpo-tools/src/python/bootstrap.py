# Driver run by PythonTool inside the sandbox (python3 -I -X utf8 -u -c <this> ARGS).
# It reads the model's code from stdin, lowers the resource limits (after the sandbox's user
# namespace exists, so RLIMIT_NPROC counts only this sandbox's processes), then runs the code
# REPL-style: a bare last expression is evaluated and printed, as the reference ARPO python tool
# does. stderr is merged into stdout so the model sees output and traceback in order.
# Exit codes read by the host: 0 ok, 101 exception (traceback printed), 102 MemoryError.
import ast
import linecache
import os
import resource
import sys
import traceback

FILENAME = "<code>"


def set_limit(kind, soft, hard=None):
    hard = soft if hard is None else hard
    try:
        resource.setrlimit(kind, (soft, hard))
    except (ValueError, OSError) as err:  # the host's hard limit is already lower
        sys.stderr.write("warning: could not set limit %r: %s\n" % (kind, err))


def main():
    mem, cpu, nproc, fsize, nofile = (int(a) for a in sys.argv[1:6])
    source = sys.stdin.buffer.read().decode("utf-8", "replace")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(1, 2)
    sys.stderr = sys.stdout

    set_limit(resource.RLIMIT_CORE, 0)
    if mem > 0:
        set_limit(resource.RLIMIT_AS, mem)
    if cpu > 0:
        # SIGXCPU at the soft limit, SIGKILL one second later.
        set_limit(resource.RLIMIT_CPU, cpu, cpu + 1)
    if nproc > 0:
        set_limit(resource.RLIMIT_NPROC, nproc)
    if fsize > 0:
        set_limit(resource.RLIMIT_FSIZE, fsize)
    if nofile > 0:
        set_limit(resource.RLIMIT_NOFILE, nofile)

    linecache.cache[FILENAME] = (len(source), None, source.splitlines(True), FILENAME)
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    try:
        tree = ast.parse(source, FILENAME, "exec")
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        exec(compile(tree, FILENAME, "exec"), namespace)
        if last is not None:
            value = eval(compile(last, FILENAME, "eval"), namespace)
            if value is not None:
                print(value)
    except SystemExit:
        raise
    except MemoryError:
        report()
        return 102
    except BaseException:
        report()
        return 101
    return 0


def report():
    etype, value, tb = sys.exc_info()
    # Drop this driver's own frames: the model should see only its code.
    while tb is not None and tb.tb_frame.f_code.co_filename != FILENAME:
        tb = tb.tb_next
    sys.stdout.flush()
    traceback.print_exception(etype, value, tb, file=sys.stdout)
    sys.stdout.flush()


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.exit(code)
