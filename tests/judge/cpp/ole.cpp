#include <bits/stdc++.h>
int main() { std::string s(4096, 'x'); for (;;) std::cout << s << '\n'; }
