//! `ferrogate`: the server and its command-line tools.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ferrogate_runtime::agent::capacity::CapacityConfig;
use ferrogate_runtime::agent::RuntimeConfig;
use ferrogate_server::{App, Config, DataDir, Listening};
use ferrogate_types::AccountId;

#[derive(Parser)]
#[command(
    name = "ferrogate",
    version,
    about = "Self-hosted, AWS-compatible Fargate: ECS tasks on encrypted storage, KMS, IAM, CloudTrail"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// Address to listen on (port 0 picks a free port).
        #[arg(long, default_value = "127.0.0.1:4599")]
        listen: SocketAddr,
        /// Data directory [default: $XDG_DATA_HOME/ferrogate or ~/.local/share/ferrogate].
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// The account created on first start.
        #[arg(long, default_value = "000000000000")]
        account_id: String,
        #[command(flatten)]
        capacity: CapacityArgs,
    },
    /// Print `export` lines for the root user's credentials and the endpoint, for `eval`.
    Credentials {
        /// Data directory [default: $XDG_DATA_HOME/ferrogate or ~/.local/share/ferrogate].
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// The local image store tasks run from (works whether or not the server is running).
    Images {
        #[command(subcommand)]
        command: ImagesCommand,
    },
}

/// What tasks may reserve on this host (admission control; docs/configuration.md).
#[derive(clap::Args, Debug, Default)]
struct CapacityArgs {
    /// CPU units (1024 per vCPU) all running tasks may reserve [default: every CPU of the host].
    #[arg(long, value_name = "UNITS")]
    allocatable_cpu: Option<u64>,
    /// Memory (MiB) all running tasks may reserve [default: the host's memory minus --reserved-memory].
    #[arg(long, value_name = "MIB")]
    allocatable_memory: Option<u64>,
    /// Memory (MiB) kept for the host [default: 1024 or a tenth of the memory, the larger].
    #[arg(long, value_name = "MIB")]
    reserved_memory: Option<u64>,
    /// Ephemeral storage (GiB) all running tasks may reserve [default: the data directory's free space minus --reserved-disk, checked at each launch].
    #[arg(long, value_name = "GIB")]
    allocatable_disk: Option<u64>,
    /// Disk (GiB) kept free for the host [default: 2].
    #[arg(long, value_name = "GIB")]
    reserved_disk: Option<u64>,
    /// Process ids all running tasks may reserve [default: the kernel's pid_max minus --reserved-pids].
    #[arg(long, value_name = "N")]
    allocatable_pids: Option<u64>,
    /// Process ids kept for the host [default: 4096].
    #[arg(long, value_name = "N")]
    reserved_pids: Option<u64>,
    /// `pids.max` of each task (threads count) [default: 1024].
    #[arg(long, value_name = "N")]
    task_pids_max: Option<u32>,
    /// How task volumes are encrypted: `auto` (the default: `xts` where FUSE is available, else `fscrypt`), `xts` (the whole volume, AES-256-XTS through FUSE) or `fscrypt` (file contents and names, ext4 encryption).
    #[arg(long, value_name = "BACKEND", default_value = "auto")]
    volume_backend: ferrogate_runtime::volume::BackendChoice,
}

impl CapacityArgs {
    fn runtime_config(&self, data_dir: PathBuf) -> RuntimeConfig {
        let mut c = RuntimeConfig::new(data_dir, "/proc/self/exe");
        c.capacity = CapacityConfig {
            cpu_units: self.allocatable_cpu,
            memory_mib: self.allocatable_memory,
            reserved_memory_mib: self.reserved_memory,
            disk_gib: self.allocatable_disk,
            reserved_disk_gib: self.reserved_disk,
            pids: self.allocatable_pids,
            reserved_pids: self.reserved_pids,
        };
        if let Some(n) = self.task_pids_max {
            c.pids_max = n;
        }
        c.volume_backend = self.volume_backend;
        c
    }
}

#[derive(Subcommand)]
enum ImagesCommand {
    /// Load a `docker save` archive or an OCI image layout (tar or directory).
    Load {
        /// Data directory [default: $XDG_DATA_HOME/ferrogate or ~/.local/share/ferrogate].
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Also name the image(s) so, e.g. `public.ecr.aws/docker/library/busybox:latest` (repeatable).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// The archive or layout.
        file: PathBuf,
    },
    /// List images.
    Ls {
        /// Data directory [default: $XDG_DATA_HOME/ferrogate or ~/.local/share/ferrogate].
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Remove an image reference (and the image once nothing names it).
    Rm {
        /// Data directory [default: $XDG_DATA_HOME/ferrogate or ~/.local/share/ferrogate].
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// The reference, e.g. `busybox` or `busybox@sha256:…`.
        reference: String,
    },
}

fn default_data_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("ferrogate");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".local/share/ferrogate")
}

fn main() -> ExitCode {
    // A task's sandbox init re-executes this binary; it must take over before anything
    // else (threads, logging, argument parsing) starts.
    ferrogate_runtime::sandbox_init_main_if_requested();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve {
            listen,
            data_dir,
            account_id,
            capacity,
        } => {
            init_logging();
            // Every connection is a descriptor: the server must be able to accept (and
            // close) connections beyond its caps rather than fail in accept with EMFILE.
            ferrogate_runtime::host::raise_open_file_limit();
            let data_dir = data_dir.unwrap_or_else(default_data_dir);
            let runtime = capacity.runtime_config(data_dir.clone());
            serve(listen, data_dir, &account_id, runtime)
        }
        Command::Credentials { data_dir } => {
            credentials(&data_dir.unwrap_or_else(default_data_dir))
        }
        Command::Images { command } => images(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ferrogate: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn credentials(dir: &std::path::Path) -> Result<(), String> {
    let dir = DataDir::open(dir).map_err(|e| e.to_string())?;
    let c = dir.read_credentials().map_err(|e| e.to_string())?;
    println!("export AWS_ACCESS_KEY_ID={}", c.access_key_id);
    println!(
        "export AWS_SECRET_ACCESS_KEY={}",
        c.secret_access_key.as_str()
    );
    println!(
        "export AWS_ENDPOINT_URL={}",
        c.endpoint.as_deref().unwrap_or("http://127.0.0.1:4599")
    );
    println!("export AWS_DEFAULT_REGION=${{AWS_DEFAULT_REGION:-us-east-1}}");
    Ok(())
}

fn images(command: ImagesCommand) -> Result<(), String> {
    use ferrogate_runtime::image;
    match command {
        ImagesCommand::Load {
            data_dir,
            tags,
            file,
        } => {
            let dir = DataDir::open(&data_dir.unwrap_or_else(default_data_dir))
                .map_err(|e| e.to_string())?;
            for s in image::load(dir.path(), &file, &tags).map_err(|e| e.to_string())? {
                println!(
                    "Loaded {} ({} layers): {}",
                    short_id(&s.id),
                    s.layers,
                    s.references.join(", ")
                );
            }
        }
        ImagesCommand::Ls { data_dir } => {
            let dir = DataDir::open(&data_dir.unwrap_or_else(default_data_dir))
                .map_err(|e| e.to_string())?;
            println!(
                "{:<64}  {:<19}  {:>6}  {:>10}",
                "REFERENCE", "IMAGE ID", "LAYERS", "SIZE"
            );
            for s in image::list(dir.path()).map_err(|e| e.to_string())? {
                let names = if s.references.is_empty() {
                    vec!["<none>".to_owned()]
                } else {
                    s.references.clone()
                };
                for r in names {
                    println!(
                        "{r:<64}  {:<19}  {:>6}  {:>10}",
                        short_id(&s.id),
                        s.layers,
                        s.size
                    );
                }
            }
        }
        ImagesCommand::Rm {
            data_dir,
            reference,
        } => {
            let dir = DataDir::open(&data_dir.unwrap_or_else(default_data_dir))
                .map_err(|e| e.to_string())?;
            let out = image::remove(dir.path(), &reference).map_err(|e| e.to_string())?;
            println!(
                "{}",
                serde_json::to_string(&out).map_err(|e| e.to_string())?
            );
        }
    }
    Ok(())
}

fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

fn serve(
    listen: SocketAddr,
    data_dir: PathBuf,
    account_id: &str,
    runtime: RuntimeConfig,
) -> Result<(), String> {
    let account = AccountId::parse(account_id).map_err(|e| e.to_string())?;
    let config = Config {
        listen,
        data_dir,
        account_id: account,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(run(config, runtime))
}

async fn run(config: Config, runtime: RuntimeConfig) -> Result<(), String> {
    let dir = DataDir::open(&config.data_dir).map_err(|e| e.to_string())?;
    let (app, created) = App::open(&dir, &config.account_id)
        .await
        .map_err(|e| e.to_string())?;
    let listening = Listening::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let endpoint = format!("http://{}", listening.local_addr);
    dir.record_endpoint(&endpoint).map_err(|e| e.to_string())?;
    let creds = dir.read_credentials().map_err(|e| e.to_string())?;
    println!(
        "Ferrogate {} listening on {endpoint}",
        env!("CARGO_PKG_VERSION")
    );
    println!("  account        {}", creds.account_id);
    println!("  data dir       {}", dir.path().display());
    println!("  access key id  {}", creds.access_key_id);
    if let Some(c) = &created {
        // The secret goes to a terminal only: when stdout is a file or a pipe (a service
        // manager's journal, a log collector) it would be stored in clear outside the data
        // directory, where only the 0600 credentials file should hold it.
        use std::io::IsTerminal as _;
        if std::io::stdout().is_terminal() {
            println!("Root credentials were created (the secret is shown once here and stored 0600 in the data dir):");
            println!("  export AWS_ACCESS_KEY_ID={}", c.access_key_id);
            println!(
                "  export AWS_SECRET_ACCESS_KEY={}",
                c.secret_access_key.as_str()
            );
        } else {
            println!(
                "Root credentials were created and stored 0600 in {} (the secret is not printed: stdout is not a terminal).",
                dir.path().join("credentials").display()
            );
        }
    }
    println!("Point the aws CLI at it:");
    println!(
        "  eval \"$(ferrogate credentials --data-dir {})\"",
        dir.path().display()
    );
    println!("  aws sts get-caller-identity");
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    tracing::info!(%endpoint, "serving");
    let maintenance = app.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(30));
        loop {
            tick.tick().await;
            match maintenance.run_maintenance().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(changes = n, "key maintenance"),
                Err(e) => tracing::error!(error = %e, "key maintenance failed"),
            }
        }
    });
    let runtime = RuntimeConfig {
        data_dir: dir.path().to_owned(),
        ..runtime
    };
    let launcher = ferrogate_server::launcher::start(app.clone(), runtime).await;
    ferrogate_server::serve(app, listening, shutdown_signal()).await;
    // Tasks run inside this process's host agent: stop them and record it before exiting.
    launcher.shutdown(std::time::Duration::from_secs(12)).await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot watch SIGTERM; stop with Ctrl-C");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
    }
}
