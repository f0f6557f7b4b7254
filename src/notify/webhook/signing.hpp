// Agent webhook request headers and signatures (api.md §6.8): Standard Webhooks
// (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`) and
// `X-Contex-Signature: sha256=<hex>`. Pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace contex::notify {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// The HMAC key of a secret: the base64-decoded bytes after `whsec_` when the secret has
// that prefix and decodes, otherwise the secret's UTF-8 bytes.
std::string StandardWebhookKey(std::string_view secret);

// "v1," + base64(HMAC-SHA256(StandardWebhookKey(secret), id + "." + timestamp + "." + body)).
std::string StandardWebhookSignature(std::string_view secret, std::string_view webhook_id,
                                     std::int64_t unix_seconds, std::string_view body);

// "sha256=" + lower-hex HMAC-SHA256(secret bytes, body).
std::string ContexSignature(std::string_view secret, std::string_view body);

struct WebhookHeaderInputs {
    std::string_view webhook_id;   // "msg_" + 32 hex, the same for every retry
    std::string_view event;        // initial_context | event | data_update
    std::string_view delivery_id;  // a new UUID per attempt
    std::string_view user_agent;   // "Contex-Webhook/<version>"
    std::int64_t unix_seconds = 0; // time of this attempt
    std::optional<std::string_view> secret;
};

// Every header of one attempt, in a fixed order; signatures only when a secret is set.
HttpHeaders WebhookHeaders(const WebhookHeaderInputs& in, std::string_view body);

}  // namespace contex::notify
