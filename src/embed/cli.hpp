// The embedding subcommands of the `contex` CLI; the cli module parses arguments and
// calls these. Each returns the process exit code (0 ok, 1 runtime error).
#pragma once

#include <istream>
#include <ostream>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "embed/config.hpp"
#include "embed/embedding_service.hpp"

namespace contex::embed {

// `contex embed [TEXT...]`: embeds the arguments, or each line of `in` when there are
// none, with the configured provider (lexical fallback included, with its warning on
// `err`) and writes {"model":…,"dim":…,"vectors":[[…],…]} and a newline to `out`.
int RunEmbedCommand(const EmbeddingConfig& config, std::vector<std::string> texts, std::istream& in,
                    std::ostream& out, std::ostream& err, TextKind kind = TextKind::kQuery);

// `contex model fetch`: downloads the configured hub model (progress bar on `err`) and
// prints the model directory on `out`.
int RunModelFetchCommand(const EmbeddingConfig& config, std::ostream& out, std::ostream& err);

// `contex model inspect`: prints JSON with the model directory, its manifest, dimension,
// max_seq_tokens, precision and a self-test timing. Never downloads.
int RunModelInspectCommand(const EmbeddingConfig& config, const Clock& clock, std::ostream& out,
                           std::ostream& err);

}  // namespace contex::embed
