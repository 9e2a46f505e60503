# Try to read host files (their paths come on stdin, one a line).
import sys
leaked = []
for path in sys.stdin.read().split():
    try:
        with open(path, "rb") as f:
            f.read(1)
        leaked.append(path)
    except OSError:
        pass
print("leaked " + " ".join(leaked) if leaked else "nothing")
