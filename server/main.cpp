// Placeholder entry point, replaced by the CLI in server/cli.cpp.
int main() { return 0; }
