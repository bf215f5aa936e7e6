#include "keystore/BrokerClient.h"

#include <mutex>
#include <unordered_set>
#include <utility>
#include <vector>

#include "keystore/BrokerConnection.h"
#include "keystore/Frame.h"
#include "keystore/LruCache.h"

namespace keystore {

namespace {

constexpr std::size_t kPatientCacheSize = 10000;
constexpr std::size_t kUidCacheSize = 200000;
constexpr std::size_t kHashCacheSize = 50000;
constexpr std::size_t kMaxIdleConnections = 8;

struct PatientAnswer {
    std::string pseudonym;
    int date_offset_days = 0;
};

}  // namespace

struct BrokerClient::Impl {
    std::string socket_path;
    std::mutex pool_mutex;
    std::vector<std::unique_ptr<BrokerConnection>> idle;

    std::mutex cache_mutex;
    LruCache<std::string, PatientAnswer> patients{kPatientCacheSize};
    LruCache<std::string, std::string> uids{kUidCacheSize};
    LruCache<std::string, std::string> hashes{kHashCacheSize};

    std::unique_ptr<BrokerConnection> take() {
        std::lock_guard<std::mutex> lock(pool_mutex);
        if (idle.empty()) return std::make_unique<BrokerConnection>(socket_path);
        auto c = std::move(idle.back());
        idle.pop_back();
        return c;
    }

    void give_back(std::unique_ptr<BrokerConnection> c) {
        std::lock_guard<std::mutex> lock(pool_mutex);
        if (idle.size() < kMaxIdleConnections) idle.push_back(std::move(c));
    }

    // One round trip; a reused connection that fails (the broker restarted) is retried once
    // on a fresh one.
    nlohmann::json ask(const nlohmann::json& request) {
        auto connection = take();
        const bool reused = connection->connected();
        try {
            auto reply = connection->request(request);
            give_back(std::move(connection));
            return reply;
        } catch (const BrokerUnreachable& e) {
            if (!reused) throw deid::PseudonymUnavailable(e.what());
        }
        connection = std::make_unique<BrokerConnection>(socket_path);
        try {
            auto reply = connection->request(request);
            give_back(std::move(connection));
            return reply;
        } catch (const BrokerUnreachable& e) {
            throw deid::PseudonymUnavailable(e.what());
        }
    }
};

BrokerClient::BrokerClient(std::string socket_path)
    : socket_path_(std::move(socket_path)), impl_(std::make_unique<Impl>()) {
    impl_->socket_path = socket_path_;
}

BrokerClient::~BrokerClient() = default;

deid::PseudonymReply BrokerClient::resolve(const deid::PseudonymRequest& request) {
    const std::string patient_key = request.issuer + std::string(1, '\0') + request.patient_id;
    deid::PseudonymReply reply;
    reply.uids.resize(request.uids.size());
    reply.hashes.resize(request.hashes.size());
    std::vector<std::string> missing_uids, missing_hashes;
    bool have_patient = false;
    {
        std::lock_guard<std::mutex> lock(impl_->cache_mutex);
        if (const PatientAnswer* p = impl_->patients.find(patient_key)) {
            reply.pseudonym = p->pseudonym;
            reply.date_offset_days = p->date_offset_days;
            have_patient = true;
        }
        std::unordered_set<std::string> seen;
        for (std::size_t i = 0; i < request.uids.size(); ++i) {
            if (const std::string* u = impl_->uids.find(request.uids[i])) reply.uids[i] = *u;
            else if (seen.insert(request.uids[i]).second) missing_uids.push_back(request.uids[i]);
        }
        seen.clear();
        for (std::size_t i = 0; i < request.hashes.size(); ++i) {
            if (const std::string* h = impl_->hashes.find(request.hashes[i])) reply.hashes[i] = *h;
            else if (seen.insert(request.hashes[i]).second) missing_hashes.push_back(request.hashes[i]);
        }
    }
    if (have_patient && missing_uids.empty() && missing_hashes.empty()) return reply;

    // One question per slice of at most kQuestionBytes of values (a Key Object Selection can
    // reference thousands of UIDs; the broker refuses frames above keystore.limits.max_frame_bytes).
    PatientAnswer patient;
    std::vector<std::string> new_uids, new_hashes;
    std::size_t next_uid = 0, next_hash = 0;
    do {
        std::size_t budget = kQuestionBytes - 1024 - request.issuer.size() - request.patient_id.size() -
                             request.instance_uid.size();
        std::vector<std::string> slice_uids, slice_hashes;
        auto fits = [&](const std::string& v) {
            const std::size_t cost = v.size() * 2 + 8;  // JSON escaping at worst doubles a value
            if (cost > budget && !(slice_uids.empty() && slice_hashes.empty())) return false;
            budget = cost > budget ? 0 : budget - cost;
            return true;
        };
        while (next_uid < missing_uids.size() && fits(missing_uids[next_uid])) slice_uids.push_back(missing_uids[next_uid++]);
        if (next_uid == missing_uids.size())
            while (next_hash < missing_hashes.size() && fits(missing_hashes[next_hash]))
                slice_hashes.push_back(missing_hashes[next_hash++]);
        nlohmann::json question = {{"op", "resolve"},
                                   {"issuer", request.issuer},
                                   {"patient_id", request.patient_id},
                                   {"uids", slice_uids},
                                   {"hashes", slice_hashes}};
        if (!request.instance_uid.empty()) question["instance_uid"] = request.instance_uid;
        const nlohmann::json answer = impl_->ask(question);
        if (!answer.is_object() || !answer.value("ok", false)) {
            std::string why = "no reason given";
            if (answer.is_object() && answer.contains("error") && answer["error"].is_string())
                why = answer["error"].get<std::string>();
            throw deid::PseudonymUnavailable("keystore broker refused the request: " + why);
        }
        try {
            patient.pseudonym = answer.at("pseudonym").get<std::string>();
            patient.date_offset_days = answer.at("date_offset_days").get<int>();
            const auto u = answer.at("uids").get<std::vector<std::string>>();
            const auto h = answer.at("hashes").get<std::vector<std::string>>();
            if (u.size() != slice_uids.size() || h.size() != slice_hashes.size())
                throw deid::PseudonymUnavailable("keystore broker: incomplete reply");
            new_uids.insert(new_uids.end(), u.begin(), u.end());
            new_hashes.insert(new_hashes.end(), h.begin(), h.end());
        } catch (const nlohmann::json::exception&) {
            throw deid::PseudonymUnavailable("keystore broker: malformed reply");
        }
    } while (next_uid < missing_uids.size() || next_hash < missing_hashes.size());
    if (patient.pseudonym.empty() || patient.date_offset_days == 0 || new_uids.size() != missing_uids.size() ||
        new_hashes.size() != missing_hashes.size())
        throw deid::PseudonymUnavailable("keystore broker: incomplete reply");
    for (const auto& v : new_uids)
        if (v.empty()) throw deid::PseudonymUnavailable("keystore broker: incomplete reply");
    for (const auto& v : new_hashes)
        if (v.empty()) throw deid::PseudonymUnavailable("keystore broker: incomplete reply");

    std::lock_guard<std::mutex> lock(impl_->cache_mutex);
    impl_->patients.put(patient_key, patient);
    reply.pseudonym = patient.pseudonym;
    reply.date_offset_days = patient.date_offset_days;
    std::unordered_map<std::string, std::string> fresh;
    for (std::size_t i = 0; i < missing_uids.size(); ++i) {
        impl_->uids.put(missing_uids[i], new_uids[i]);
        fresh.emplace(missing_uids[i], new_uids[i]);
    }
    for (std::size_t i = 0; i < request.uids.size(); ++i)
        if (reply.uids[i].empty()) reply.uids[i] = fresh.at(request.uids[i]);
    fresh.clear();
    for (std::size_t i = 0; i < missing_hashes.size(); ++i) {
        impl_->hashes.put(missing_hashes[i], new_hashes[i]);
        fresh.emplace(missing_hashes[i], new_hashes[i]);
    }
    for (std::size_t i = 0; i < request.hashes.size(); ++i)
        if (reply.hashes[i].empty()) reply.hashes[i] = fresh.at(request.hashes[i]);
    return reply;
}

}  // namespace keystore
