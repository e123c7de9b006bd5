// gpushare: the binary. Everything lives in server/cli.cpp so that tests can call it.
#include <iostream>
#include <string>
#include <vector>

#include "server/cli.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return gpushare::server::run_cli(args, std::cin, std::cout, std::cerr);
}
