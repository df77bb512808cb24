#include "agent/identity/cert_manager.h"

#include <nlohmann/json.hpp>
#include <random>

#include "core/identity/csr.h"
#include "core/identity/tls.h"

namespace weft::agent {

namespace asio = boost::asio;
using boost::system::error_code;
using identity::Clock;
using identity::TimePoint;
using json = nlohmann::json;

std::string Rfc3339(TimePoint t) {
  std::time_t tt = Clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string CertStatusJson(const std::vector<CertStatus>& certs) {
  json out = json::array();
  auto time = [](const std::optional<TimePoint>& t) -> json {
    return t ? json(Rfc3339(*t)) : json(nullptr);
  };
  for (const auto& c : certs) {
    out.push_back({{"identity", c.identity},
                   {"serial", c.serial},
                   {"not_before", time(c.not_before)},
                   {"not_after", time(c.not_after)},
                   {"state", c.state},
                   {"error", c.error},
                   {"next_attempt", time(c.next_attempt)}});
  }
  return out.dump();
}

absl::StatusOr<std::shared_ptr<const CertManager::Contexts>> BuildContexts(
    const identity::Certificate& cert, std::shared_ptr<const identity::KeyPair> key,
    std::shared_ptr<const identity::TrustBundle> bundle) {
  auto make = [&]() -> absl::StatusOr<std::shared_ptr<SSL_CTX>> {
    std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_method()), SSL_CTX_free);
    if (!ctx) return absl::InternalError("SSL_CTX_new failed");
    if (auto s = identity::ConfigureMutualTls(ctx.get(), bundle,
                                              {.peer_kind = identity::SpiffeId::Kind::kWorkload});
        !s.ok()) {
      return s;
    }
    if (auto s = identity::SetIdentity(ctx.get(), cert, *key); !s.ok()) return s;
    return ctx;
  };
  auto server = make();
  if (!server.ok()) return server.status();
  auto client = make();
  if (!client.ok()) return client.status();
  auto key_copy = identity::KeyPair::FromPrivateKeyPem(key->PrivateKeyPem());
  if (!key_copy.ok()) return key_copy.status();
  auto id = cert.GetSpiffeId();
  if (!id.ok()) return id.status();
  auto source = std::make_shared<const hbone::SourceIdentity>(
      hbone::SourceIdentity{*id, cert, std::move(*key_copy)});
  auto c = std::make_shared<CertManager::Contexts>(CertManager::Contexts{
      *server, *client, h2::WrapSslCtx(server->get()), h2::WrapSslCtx(client->get()), cert,
      std::move(key), std::move(bundle), std::move(source)});
  return std::shared_ptr<const CertManager::Contexts>(std::move(c));
}

namespace {

std::shared_ptr<asio::ssl::context> MakeClientTls(
    std::shared_ptr<const identity::TrustBundle> bundle) {
  identity::ossl::SslCtx ctx(SSL_CTX_new(TLS_method()));
  if (!ctx || !identity::ConfigureMutualTls(ctx.get(), std::move(bundle),
                                            {.peer_kind = identity::SpiffeId::Kind::kWorkload})
                   .ok()) {
    return nullptr;
  }
  return h2::WrapSslCtx(ctx.get());
}

}  // namespace

CertManager::CertManager(CertManagerOptions options)
    : options_(std::move(options)), bundle_timer_(io_) {}

absl::StatusOr<std::unique_ptr<CertManager>> CertManager::Start(CertManagerOptions options) {
  if (options.ca_address.empty()) return absl::InvalidArgumentError("no CA address");
  auto creds = options.ca_token_file.empty()
                   ? LoadNodeCredentials(options.node_cert_file, options.node_key_file,
                                         options.ca_bundle_file)
                   : LoadTokenCredentials(options.ca_token_file, options.ca_bundle_file,
                                          options.trust_domain);
  if (!creds.ok()) return creds.status();
  if (!options.trust_domain.empty() && creds->bundle->trust_domain() != options.trust_domain) {
    return absl::InvalidArgumentError("node certificate is for trust domain " +
                                      creds->bundle->trust_domain() + ", not " +
                                      options.trust_domain);
  }
  options.trust_domain = creds->bundle->trust_domain();
  std::unique_ptr<CertManager> m(new CertManager(std::move(options)));
  m->bundle_ = creds->bundle;
  m->client_tls_ = MakeClientTls(m->bundle_);
  auto client = CaClient::Create(m->io_.get_executor(),
                                 {.address = m->options_.ca_address,
                                  .timeout = m->options_.ca_timeout,
                                  .kubeconfig = m->options_.kubeconfig},
                                 std::move(*creds));
  if (!client.ok()) return client.status();
  m->client_ = std::move(*client);
  m->work_.emplace(m->io_.get_executor());
  CertManager* self = m.get();
  asio::post(m->io_, [self] {
    self->bundle_timer_.expires_after(self->options_.bundle_poll_interval);
    self->bundle_timer_.async_wait([self](error_code e) {
      if (!e) self->PollBundle();
    });
  });
  m->thread_ = std::thread([self] { self->io_.run(); });
  return m;
}

CertManager::~CertManager() {
  work_.reset();
  io_.stop();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> l(mu_);
  entries_.clear();  // timers before the io_context
}

void CertManager::OnChange(std::function<void()> fn) {
  std::lock_guard<std::mutex> l(mu_);
  listeners_.push_back(std::move(fn));
}

void CertManager::Notify() {
  std::vector<std::function<void()>> ls;
  {
    std::lock_guard<std::mutex> l(mu_);
    ls = listeners_;
  }
  for (auto& f : ls) f();
}

void CertManager::SetIdentities(std::vector<identity::SpiffeId> ids) {
  asio::post(io_, [this, ids = std::move(ids)]() mutable { DoSetIdentities(std::move(ids)); });
}

void CertManager::DoSetIdentities(std::vector<identity::SpiffeId> ids) {
  std::vector<identity::SpiffeId> added;
  bool removed = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    std::map<identity::SpiffeId, bool> want;
    for (auto& id : ids) {
      if (id.kind() != identity::SpiffeId::Kind::kWorkload ||
          id.trust_domain() != options_.trust_domain) {
        continue;
      }
      want[id] = true;
    }
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (want.count(it->first) == 0) {
        it = entries_.erase(it);  // the key goes with it; the timer is cancelled
        removed = true;
      } else {
        ++it;
      }
    }
    for (const auto& [id, _] : want) {
      if (entries_.count(id) != 0) continue;
      identity::Backoff backoff({.initial = options_.backoff_initial,
                                 .max = options_.backoff_max,
                                 .multiplier = options_.backoff_multiplier,
                                 .jitter = options_.backoff_jitter});
      auto [it, ok] = entries_.emplace(id, Entry(std::move(backoff)));
      it->second.generation = next_generation_++;
      it->second.timer = std::make_unique<asio::steady_timer>(io_);
      added.push_back(id);
    }
  }
  for (const auto& id : added) Fetch(id);
  if (removed) Notify();
}

void CertManager::Fetch(const identity::SpiffeId& id) {
  uint64_t generation;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = entries_.find(id);
    if (it == entries_.end() || it->second.in_flight) return;
    it->second.in_flight = true;
    generation = it->second.generation;
  }
  auto key = identity::KeyPair::GenerateP256();
  absl::StatusOr<std::string> csr =
      key.ok() ? identity::CreateCsr(*key, id) : absl::StatusOr<std::string>(key.status());
  if (!csr.ok()) {
    asio::post(
        io_, [this, id, generation, st = csr.status()] { OnSigned(id, generation, nullptr, st); });
    return;
  }
  auto shared_key = std::make_shared<identity::KeyPair>(std::move(*key));
  client_->Sign(*csr, options_.workload_ttl,
                [this, id, generation, shared_key](absl::StatusOr<SignResponse> r) {
                  OnSigned(id, generation, shared_key, std::move(r));
                });
}

void CertManager::OnSigned(const identity::SpiffeId& id, uint64_t generation,
                           std::shared_ptr<identity::KeyPair> key, absl::StatusOr<SignResponse> r) {
  TimePoint now = Clock::now();
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = entries_.find(id);
    if (it == entries_.end() || it->second.generation != generation) return;  // dropped
    Entry& e = it->second;
    e.in_flight = false;
    absl::Status st = r.status();
    std::optional<identity::Certificate> cert;
    std::shared_ptr<const Contexts> contexts;
    if (st.ok()) {
      bool changed = false;
      st = AdoptBundleLocked(r->bundle_pem, &changed);
    }
    if (st.ok()) {
      auto c = identity::Certificate::FromPem(r->cert_pem);
      if (!c.ok()) {
        st = c.status();
      } else {
        identity::VerifyResult v =
            bundle_->Verify({*c}, {.now = now, .kind = identity::SpiffeId::Kind::kWorkload});
        if (!v.ok()) {
          st =
              absl::InternalError("CA returned a certificate that does not verify: " +
                                  std::string(identity::VerifyErrorName(v.error)) + " " + v.detail);
        } else if (!v.id || !(*v.id == id)) {
          st = absl::InternalError("CA returned a certificate for " +
                                   (v.id ? v.id->str() : std::string("?")));
        } else {
          cert = std::move(*c);
        }
      }
    }
    if (st.ok()) {
      auto built = BuildContexts(*cert, key, bundle_);
      if (!built.ok()) {
        st = built.status();
      } else {
        contexts = std::move(*built);
      }
    }
    if (st.ok()) {
      auto slot_key = identity::KeyPair::FromPrivateKeyPem(key->PrivateKeyPem());
      TimePoint renew = e.slot.Install(*cert, std::move(*slot_key));
      renew = std::max(renew, now + options_.min_renew_delay);
      e.cert = std::move(cert);
      e.key = key;
      e.contexts = std::move(contexts);
      e.error.clear();
      Schedule(e, id, renew);
    } else {
      e.error = std::string(st.message());
      TimePoint next = e.slot.RenewalFailed(now);
      Schedule(e, id, next);
    }
  }
  Notify();
}

void CertManager::Schedule(Entry& e, const identity::SpiffeId& id, TimePoint when) {
  auto delay = std::chrono::duration_cast<std::chrono::steady_clock::duration>(when - Clock::now());
  if (delay < std::chrono::steady_clock::duration::zero()) delay = {};
  e.timer->expires_after(delay);
  uint64_t generation = e.generation;
  e.timer->async_wait([this, id, generation](error_code ec) {
    if (ec) return;
    {
      std::lock_guard<std::mutex> l(mu_);
      auto it = entries_.find(id);
      if (it == entries_.end() || it->second.generation != generation) return;
    }
    Fetch(id);
  });
}

absl::Status CertManager::AdoptBundleLocked(const std::string& pem, bool* changed) {
  *changed = false;
  auto parsed = identity::TrustBundle::FromPem(options_.trust_domain, pem);
  if (!parsed.ok()) return parsed.status();
  if (parsed->ToPem() == bundle_->ToPem()) return absl::OkStatus();
  auto bundle = std::make_shared<const identity::TrustBundle>(std::move(*parsed));
  if (absl::Status s = client_->SetBundle(bundle); !s.ok()) return s;
  bundle_ = bundle;
  client_tls_ = MakeClientTls(bundle_);
  *changed = true;
  for (auto& [id, e] : entries_) {
    if (!e.cert || !e.key) continue;
    auto built = BuildContexts(*e.cert, e.key, bundle_);
    if (built.ok()) e.contexts = std::move(*built);
  }
  return absl::OkStatus();
}

void CertManager::PollBundle() {
  client_->FetchBundle([this](absl::StatusOr<std::string> r) {
    bool changed = false;
    if (r.ok()) {
      std::lock_guard<std::mutex> l(mu_);
      (void)AdoptBundleLocked(*r, &changed);
    }
    if (changed) Notify();
    bundle_timer_.expires_after(options_.bundle_poll_interval);
    bundle_timer_.async_wait([this](error_code e) {
      if (!e) PollBundle();
    });
  });
}

std::shared_ptr<const CertManager::Contexts> CertManager::Get(const identity::SpiffeId& id) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end() || !it->second.contexts) return nullptr;
  const auto& c = it->second.contexts;
  if (!identity::Usable(identity::StateAt(identity::Validity::Of(c->cert), Clock::now()))) {
    return nullptr;
  }
  return c;
}

std::shared_ptr<const identity::TrustBundle> CertManager::Bundle() const {
  std::lock_guard<std::mutex> l(mu_);
  return bundle_;
}

std::shared_ptr<asio::ssl::context> CertManager::ClientTls() const {
  std::lock_guard<std::mutex> l(mu_);
  return client_tls_;
}

std::vector<CertStatus> CertManager::Status() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<CertStatus> out;
  TimePoint now = Clock::now();
  for (const auto& [id, e] : entries_) {
    CertStatus s;
    s.identity = id.str();
    if (e.cert) {
      s.serial = e.cert->SerialHex();
      s.not_before = e.cert->not_before();
      s.not_after = e.cert->not_after();
      s.state = std::string(identity::CertStateName(e.slot.StateAt(now)));
    } else {
      s.state = "pending";
    }
    s.error = e.error;
    s.next_attempt = e.slot.next_attempt();
    if (e.in_flight) s.next_attempt = now;
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace weft::agent
