import time
time.sleep(2)
a, b = map(int, input().split())
print(a + b)
