// contex: one binary, subcommands. Each subcommand is a few lines calling into app/.
#include <CLI/CLI.hpp>

#include <csignal>
#include <iostream>
#include <thread>

#include "app/application.hpp"
#include "app/config.hpp"

namespace {

// Loads the configuration or prints every problem and exits with code 2.
contex::app::Config LoadOrExit() {
    auto config = contex::app::LoadConfig(contex::app::ProcessEnvironment(),
                                          std::thread::hardware_concurrency());
    if (!config.ok()) {
        std::cerr << "contex: invalid configuration:\n" << config.error().message << "\n";
        std::exit(2);
    }
    return std::move(config).value();
}

}  // namespace

int main(int argc, char** argv) {
    // A peer that vanishes mid-write must fail that write, not kill the process.
    std::signal(SIGPIPE, SIG_IGN);
    CLI::App cli{"Contex: semantic context routing for AI agents"};
    cli.set_version_flag("--version", std::string("contex ") + std::string(contex::app::kVersion));
    cli.require_subcommand(0, 1);

    auto* serve = cli.add_subcommand("serve", "Run the HTTP server (default)");

    CLI11_PARSE(cli, argc, argv);

    if (cli.get_subcommands().empty() || serve->parsed()) {
        return contex::app::RunServer(LoadOrExit());
    }
    return 0;
}
