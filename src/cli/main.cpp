// contex: one binary, subcommands. Each subcommand is a few lines calling into app/.
#include <CLI/CLI.hpp>

#include <csignal>
#include <iostream>
#include <thread>

#include "app/application.hpp"
#include "app/config.hpp"
#include "common/clock.hpp"
#include "embed/cli.hpp"

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

    auto* migrate = cli.add_subcommand("migrate", "Apply database migrations (DATABASE_URL)");
    bool status_only = false;
    migrate->add_flag("--status", status_only, "Print the schema version without migrating");

    auto* embed = cli.add_subcommand("embed", "Embed texts (arguments or stdin lines) and print JSON");
    std::vector<std::string> texts;
    embed->add_option("texts", texts, "Texts to embed; stdin lines when none");
    bool as_document = false;
    embed->add_flag("--document", as_document, "Use the document prefix instead of the query prefix");

    auto* model = cli.add_subcommand("model", "Embedding model files");
    model->require_subcommand(1);
    auto* fetch = model->add_subcommand("fetch", "Download the configured model");
    auto* inspect = model->add_subcommand("inspect", "Show the model, its manifest and a self-test");

    CLI11_PARSE(cli, argc, argv);

    if (migrate->parsed()) return contex::app::RunMigrate(LoadOrExit(), status_only);
    if (embed->parsed()) {
        return contex::embed::RunEmbedCommand(
            LoadOrExit().embedding, texts, std::cin, std::cout, std::cerr,
            as_document ? contex::embed::TextKind::kDocument : contex::embed::TextKind::kQuery);
    }
    if (fetch->parsed()) {
        return contex::embed::RunModelFetchCommand(LoadOrExit().embedding, std::cout, std::cerr);
    }
    if (inspect->parsed()) {
        contex::SystemClock clock;
        return contex::embed::RunModelInspectCommand(LoadOrExit().embedding, clock, std::cout,
                                                     std::cerr);
    }
    if (cli.get_subcommands().empty() || serve->parsed()) {
        return contex::app::RunServer(LoadOrExit());
    }
    return 0;
}
