#include "notify/webhook/signing.hpp"

#include "common/crypto.hpp"
#include "common/strings.hpp"

namespace contex::notify {

std::string StandardWebhookKey(std::string_view secret) {
    constexpr std::string_view kPrefix = "whsec_";
    if (StartsWith(secret, kPrefix)) {
        std::string decoded;
        if (Base64Decode(secret.substr(kPrefix.size()), decoded) && !decoded.empty()) return decoded;
    }
    return std::string(secret);
}

std::string StandardWebhookSignature(std::string_view secret, std::string_view webhook_id,
                                     std::int64_t unix_seconds, std::string_view body) {
    std::string signed_content;
    signed_content.reserve(webhook_id.size() + body.size() + 24);
    signed_content.append(webhook_id).push_back('.');
    signed_content.append(std::to_string(unix_seconds)).push_back('.');
    signed_content.append(body);
    return "v1," + Base64Encode(HmacSha256Raw(StandardWebhookKey(secret), signed_content));
}

std::string ContexSignature(std::string_view secret, std::string_view body) {
    return "sha256=" + HmacSha256Hex(secret, body);
}

HttpHeaders WebhookHeaders(const WebhookHeaderInputs& in, std::string_view body) {
    HttpHeaders h{
        {"Content-Type", "application/json"},
        {"User-Agent", std::string(in.user_agent)},
        {"X-Contex-Event", std::string(in.event)},
        {"X-Contex-Delivery-ID", std::string(in.delivery_id)},
        {"webhook-id", std::string(in.webhook_id)},
        {"webhook-timestamp", std::to_string(in.unix_seconds)},
    };
    if (in.secret) {
        h.emplace_back("webhook-signature",
                       StandardWebhookSignature(*in.secret, in.webhook_id, in.unix_seconds, body));
        h.emplace_back("X-Contex-Signature", ContexSignature(*in.secret, body));
    }
    return h;
}

}  // namespace contex::notify
