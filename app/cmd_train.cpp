// `nat train --config FILE [--key value ...]`: training from a timm-style YAML config (train/trainer.h).
// --dry-run validates the config, builds the model, prints both tables and exits without touching data.
// Exit codes: 0 done (or nothing left to train), 2 an error, 128 + signal when SIGINT/SIGTERM stopped it.
#include <cstdio>

#include "app/commands.h"
#include "core/rng.h"
#include "nn/summary.h"
#include "train/checkpoint.h"
#include "train/config.h"
#include "train/progress.h"
#include "train/trainer.h"

namespace nat::app {

namespace {

const char* kHelp =
    "usage: nat train --config FILE [--key value ...] [--dry-run] [--max-steps N] [--resume CKPT]\n"
    "       nat train --list-keys\n\n"
    "Trains a NAT from a timm-style YAML config (NAT's classification/configs/*.yml load unchanged; see\n"
    "configs/). Every config key can be overridden on the command line as --key value (hyphens or\n"
    "underscores; list keys take several values: --opt-betas 0.9 0.999; booleans may stand alone: --amp).\n"
    "A bare argument is data_dir, as in timm. The resolved config is printed and saved as args.yaml in the\n"
    "run directory <output>/<experiment>/, with summary.csv, train.log, last/best/checkpoint-<epoch>.safetensors.\n\n"
    "  --dry-run        validate the config, build the model, print the config and model tables, and exit\n"
    "  --list-keys      print every config key with its type, default and meaning\n"
    "  --max-steps N    stop cleanly after N optimizer steps in all, saving last.safetensors\n"
    "  --resume CKPT    continue a run exactly where CKPT (a last.safetensors) stopped\n"
    "Ctrl-C (or SIGTERM) finishes the current step, saves last.safetensors and stops with exit code 130\n"
    "(143 for SIGTERM); a second Ctrl-C quits at once (checkpoints are written atomically, so the last\n"
    "complete one stays valid). A run directory belongs to one run at a time (a lock file, .lock).\n\n"
    "Data parallel (docs/distributed.md): start one process per GPU, or per CPU share, with a launcher:\n"
    "  mpirun -np 8 nat train --config F           one node, or many with --hostfile (NCCL on GPUs, MPI on CPUs)\n"
    "  srun --ntasks-per-node=8 nat train ...      Slurm (SLURM_PROCID/NTASKS/LOCALID)\n"
    "  RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT   torchrun-style, NCCL id over TCP\n"
    "batch_size is per process: the global batch is batch_size x processes (as timm). Keys: dist_backend,\n"
    "dist_timeout (s), dist_bucket_mb.\n";

void list_keys() {
  std::string group;
  for (const auto& k : train::config_keys()) {
    if (k.group != group) std::printf("\n[%s]\n", (group = k.group).c_str());
    std::printf("  %-22s %-16s %-24s %s\n", k.name.c_str(), k.type.c_str(), k.default_value.c_str(), k.help.c_str());
  }
  std::printf("\nAccepted at their neutral value only (timm options nat.cpp does not implement):\n ");
  for (const auto& k : train::inert_timm_keys()) std::printf(" %s", k.c_str());
  std::printf("\n");
}

int dry_run(const train::TrainConfig& cfg) {
  std::printf("%s\n", train::format_config_table(cfg).c_str());
  nn::NatConfig mc = cfg.nat_config();
  Generator gen(static_cast<uint64_t>(cfg.data.seed));
  auto model = nn::create_nat(mc, gen);
  nn::ModelSummary s = nn::summarize(*model, 1, cfg.data.img_size, cfg.data.img_size);
  std::printf("Model %s (%s)%s\n%s\n", mc.name.c_str(), train::nat_config_json(mc).c_str(),
              cfg.data.num_classes == 0 ? " [num_classes 0: taken from the dataset at training time; 1000 shown]" : "",
              nn::format_summary(s, 2).c_str());
  std::printf("Device: %s. Dry run: config and model are valid; no data was read.\n",
              train::resolve_device(cfg.device).str().c_str());
  return 0;
}

}  // namespace

int cmd_train(const std::vector<std::string>& args) {
  train::CommandLine cl = train::parse_command_line(args);
  if (cl.help) {
    std::printf("%s", kHelp);
    return 0;
  }
  if (cl.list_keys) {
    list_keys();
    return 0;
  }
  NAT_CHECK(!cl.config_file.empty() || !cl.overrides.empty(), "no config: give --config FILE (see nat train --help)");
  train::TrainConfig cfg = train::load_config(cl);
  if (cl.dry_run) return dry_run(cfg);

  const train::LaunchInfo launch = train::detect_launch();
  std::shared_ptr<train::Communicator> comm;
  train::TrainResult r;
  try {
    comm = train::setup_distributed(cfg, launch);
    const bool main_rank = comm->rank() == 0;
    if (main_rank) std::printf("%s\n", train::format_config_table(cfg).c_str());
    train::Trainer trainer(cfg, {}, comm);
    if (main_rank) std::printf("%s\n\n", trainer.describe().c_str());
    r = trainer.fit();
    if (!main_rank) return r.signal ? 128 + r.signal : 0;
  } catch (const Error& e) {
    if (!launch.distributed()) throw;
    // One rank's error ends the job: the others would wait for it in their next collective.
    std::fprintf(stderr, "[rank %d/%d] nat train: error: %s\n", launch.rank, launch.world_size, e.what());
    std::fflush(stderr);
    train::abort_job(2);
    return 2;
  }
  std::printf("\n");
  if (r.nothing_to_train) {
    std::printf("Nothing to train: %s already holds all %lld epochs; run directory %s\n",
                cfg.resume.empty() ? "the run" : cfg.resume.c_str(), static_cast<long long>(cfg.total_epochs()),
                r.run_dir.c_str());
    return 0;
  }
  if (r.unreadable_train_files > 0 || r.unreadable_val_files > 0)
    std::printf("Unreadable files skipped: %lld training, %lld validation (stderr names each)\n",
                static_cast<long long>(r.unreadable_train_files), static_cast<long long>(r.unreadable_val_files));
  if (r.last_eval.samples > 0)
    std::printf(
        "Final accuracy: top-1 %.2f%%, top-5 %.2f%%, loss %.4f on %lld validation images (epoch %lld); "
        "best %s %.4g (epoch %lld)\n",
        r.last_eval.top1, r.last_eval.top5, r.last_eval.loss, static_cast<long long>(r.last_eval.samples),
        static_cast<long long>(r.epochs_done - 1), cfg.eval_metric.c_str(), r.best_metric,
        static_cast<long long>(r.best_epoch));
  const std::string since_start = r.steps_this_run == r.steps ? "" : str(" (", r.steps, " since the start of the run)");
  std::printf("%s %lld steps%s in %s (CPU time %s, all threads); run directory %s\n",
              r.stopped_early ? "Stopped after" : "Trained", static_cast<long long>(r.steps_this_run),
              since_start.c_str(), train::format_duration(r.train_seconds).c_str(),
              train::format_duration(r.cpu_seconds).c_str(), r.run_dir.c_str());
  if (r.signal) {
    std::fprintf(stderr, "nat train: stopped by signal %d after saving; exit code %d\n", r.signal, 128 + r.signal);
    return 128 + r.signal;
  }
  return 0;
}

}  // namespace nat::app
