//! The image, built and run as a cluster would run it, with no Docker daemon and no registry:
//! `docker/build-image` assembles it with buildah FROM scratch into an OCI archive; the test
//! reads the archive as a runtime does (index, manifest, config, layers with their extended
//! attributes), unpacks the root filesystem, and starts the entrypoint the way kubelet and runc
//! start CoreDNS's Deployment: new mount, PID and network namespaces, the root read-only, the
//! Corefile a ConfigMap volume at /etc/coredns, user 65532 with every capability dropped but
//! NET_BIND_SERVICE and no new privileges. `dig` asks it questions from inside its network
//! namespace. (`podman run` cannot be used here: crun fails to set rlimits in this sandbox.)
//!
//! Needs root, buildah, capsh and nsenter, as `.ci/run` provides; without them the test fails
//! saying what is missing.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::binary::{Running, Scratch};
use crate::harness::eventually;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// Runs `command`, panicking with its output unless it succeeds; returns its stdout.
fn run_ok(command: &mut Command) -> String {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?} could not start ({e}); .ci/run installs it"));
    assert!(
        out.status.success(),
        "{command:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The blob a descriptor points at, inside an unpacked OCI layout.
fn blob(layout: &Path, descriptor: &serde_json::Value) -> PathBuf {
    let digest = descriptor["digest"].as_str().expect("a digest");
    let hex = digest.strip_prefix("sha256:").expect("a sha256 digest");
    let path = layout.join("blobs/sha256").join(hex);
    let size = std::fs::metadata(&path).unwrap().len();
    assert_eq!(Some(size), descriptor["size"].as_u64(), "size of {digest}");
    path
}

/// An unpacked image: its configuration and root filesystem.
struct Image {
    config: serde_json::Value,
    rootfs: PathBuf,
}

/// Reads an OCI archive as a runtime does and unpacks its layers, in order, into `dir`/rootfs,
/// keeping owners, modes and extended attributes (the binary's file capability is one).
fn unpack(archive: &Path, dir: &Path) -> Image {
    let layout = dir.join("layout");
    std::fs::create_dir_all(&layout).unwrap();
    run_ok(Command::new("tar").arg("-xf").arg(archive).arg("-C").arg(&layout));
    let index = json(&layout.join("index.json"));
    let manifests = index["manifests"].as_array().expect("index.json lists manifests");
    assert_eq!(manifests.len(), 1, "{index}");
    assert_eq!(
        manifests[0]["annotations"]["org.opencontainers.image.ref.name"], "localhost/ferrodns:dev",
        "the image's name"
    );
    let manifest = json(&blob(&layout, &manifests[0]));
    assert_eq!(manifest["mediaType"], "application/vnd.oci.image.manifest.v1+json");
    let config = json(&blob(&layout, &manifest["config"]));
    let rootfs = dir.join("rootfs");
    std::fs::create_dir_all(&rootfs).unwrap();
    let layers = manifest["layers"].as_array().expect("layers");
    assert!(!layers.is_empty());
    for layer in layers {
        // GNU tar finds the compression itself; the xattrs flags keep security.capability.
        run_ok(
            Command::new("tar")
                .args(["--xattrs", "--xattrs-include=*", "--same-owner", "--numeric-owner", "-xf"])
                .arg(blob(&layout, layer))
                .arg("-C")
                .arg(&rootfs),
        );
    }
    Image { config, rootfs }
}

/// A ConfigMap volume as kubelet writes it: the files in a timestamped directory, `..data` a
/// symlink to it, and each key a symlink through `..data`. `update` swaps `..data` atomically,
/// as kubelet does when the ConfigMap changes.
struct ConfigMapVolume(PathBuf);

impl ConfigMapVolume {
    fn new(dir: &Path, corefile: &str) -> Self {
        let volume = Self(dir.to_path_buf());
        std::fs::create_dir_all(dir).unwrap();
        volume.update("..2026_12_06_17_00_00.0001", corefile);
        std::os::unix::fs::symlink("..data/Corefile", dir.join("Corefile")).unwrap();
        volume
    }

    fn update(&self, version: &str, corefile: &str) {
        let data = self.0.join(version);
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join("Corefile"), corefile).unwrap();
        let staged = self.0.join("..data_tmp");
        let _ = std::fs::remove_file(&staged);
        std::os::unix::fs::symlink(version, &staged).unwrap();
        std::fs::rename(&staged, self.0.join("..data")).unwrap();
    }
}

/// Every capability the kernel knows but NET_BIND_SERVICE, for capsh's `--drop`.
fn all_capabilities_but_net_bind_service() -> String {
    let print = run_ok(Command::new("capsh").arg("--print"));
    let bounding = print
        .lines()
        .find_map(|l| l.strip_prefix("Bounding set ="))
        .expect("capsh --print shows the bounding set");
    bounding.split(',').filter(|c| *c != "cap_net_bind_service").collect::<Vec<_>>().join(",")
}

/// The entrypoint started as kubelet and runc start CoreDNS's Deployment (securityContext:
/// readOnlyRootFilesystem, allowPrivilegeEscalation false, capabilities drop ALL and add
/// NET_BIND_SERVICE; the image's USER 65532:65532), in namespaces of its own. The shell runs
/// as the runtime, mounting what a Pod gets; capsh then becomes the container's process.
fn start_container(image: &Image, configmap: &Path, dir: &Path) -> Running {
    let config = &image.config["config"];
    let entrypoint: Vec<&str> =
        config["Entrypoint"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    let (uid, gid) = config["User"].as_str().unwrap().split_once(':').expect("uid:gid");
    let root = image.rootfs.display();
    // The mount points a runtime creates in the container's own copy of the root.
    for dir in ["proc", "dev", "etc/coredns"] {
        std::fs::create_dir_all(image.rootfs.join(dir)).unwrap();
    }
    // /dev as runc makes it: a tmpfs holding the host's harmless device nodes.
    let runtime = format!(
        "set -e
         mount --bind {root} {root}
         mount -t proc proc {root}/proc
         mount -t tmpfs -o nosuid,mode=755 tmpfs {root}/dev
         for node in null zero full random urandom tty; do
             touch {root}/dev/$node && mount --bind /dev/$node {root}/dev/$node
         done
         mount --bind {configmap} {root}/etc/coredns
         mount -o remount,bind,ro {root}/etc/coredns
         mount -o remount,bind,ro {root}
         ip link set lo up
         exec capsh --chroot={root} --no-new-privs --drop={drop} \
              --gid={gid} --groups={gid} --keep=1 --uid={uid} \
              --caps=cap_net_bind_service+ep --shell={entry} -- \"$@\"",
        configmap = configmap.display(),
        drop = all_capabilities_but_net_bind_service(),
        entry = entrypoint[0],
    );
    let mut command = Command::new("unshare");
    command
        .args(["--mount", "--propagation", "private", "--pid", "--net", "--fork"])
        .args(["--kill-child", "sh", "-c", &runtime, "container"])
        .args(&entrypoint[1..])
        .args(["-conf", "/etc/coredns/Corefile"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    Running::from_command(command, dir, None)
}

/// The host's pid of the container's process: unshare's only child.
fn container_pid(unshare_pid: u32) -> u32 {
    let children =
        std::fs::read_to_string(format!("/proc/{unshare_pid}/task/{unshare_pid}/children"))
            .unwrap();
    children.split_whitespace().next().expect("unshare forked").parse().unwrap()
}

/// `dig` run inside the container's network namespace against its port 53.
fn dig_in(pid: u32, args: &[&str]) -> String {
    run_ok(
        Command::new("nsenter")
            .args(["--target", &pid.to_string(), "--net", "dig", "@127.0.0.1", "-p", "53"])
            .args(["+short", "+tries=1", "+time=5"])
            .args(args)
            .stdin(Stdio::null()),
    )
}

/// An HTTP GET inside the container's network namespace (bash's /dev/tcp: no curl needed).
fn http_get_in(pid: u32, port: u16, path: &str) -> String {
    let script = format!(
        "exec 3<>/dev/tcp/127.0.0.1/{port} && printf 'GET {path} HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3"
    );
    run_ok(
        Command::new("nsenter")
            .args(["--target", &pid.to_string(), "--net", "bash", "-c"])
            .arg(script),
    )
}

/// A field of /proc/PID/status.
fn status_field(pid: u32, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"))
        .trim()
        .to_string()
}

const COREFILE: &str = ".:53 {
    errors
    health
    ready
    hosts {
       172.16.0.3 webservice1.com
    }
    prometheus :9153
    cache 30
    reload 2s 1s
    loadbalance
}
";

#[tokio::test(flavor = "multi_thread")]
async fn the_image_built_with_buildah_serves_a_configmap_corefile_as_user_65532_on_a_read_only_root()
 {
    let dir = Scratch::new("image");
    let archive = dir.join("ferrodns.oci.tar");
    // Built as a user builds it: the variables cargo sets for this test (LD_LIBRARY_PATH,
    // CARGO_PKG_* and the like) would make the nested build's fingerprints differ and
    // rebuild the binary that .ci/run built.
    let mut build = Command::new(Path::new(REPO).join("docker/build-image"));
    build.arg(&archive).env_clear();
    for name in ["PATH", "HOME", "CARGO_HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN"] {
        if let Some(value) = std::env::var_os(name) {
            build.env(name, value);
        }
    }
    run_ok(&mut build);

    let image = unpack(&archive, dir.path());
    let config = &image.config["config"];
    assert_eq!(image.config["os"], "linux");
    assert_eq!(config["Entrypoint"], serde_json::json!(["/coredns"]), "{config}");
    assert_eq!(config["User"], "65532:65532", "numeric, so runAsNonRoot can check it");
    assert_eq!(config["WorkingDir"], "/");
    for port in ["53/udp", "53/tcp", "8080/tcp", "8181/tcp", "9153/tcp"] {
        assert!(config["ExposedPorts"].get(port).is_some(), "{port} exposed: {config}");
    }
    let passwd = std::fs::read_to_string(image.rootfs.join("etc/passwd")).unwrap();
    assert!(passwd.lines().any(|l| l.starts_with("nonroot:x:65532:65532:")), "{passwd}");
    let home = std::fs::metadata(image.rootfs.join("home/nonroot")).unwrap();
    assert_eq!((home.uid(), home.gid()), (65532, 65532), "nonroot's home is its own");
    let bundle = std::fs::read_to_string(image.rootfs.join("etc/ssl/certs/ca-certificates.crt"))
        .expect("the CA bundle for DNS over TLS upstreams");
    let certificates = bundle.matches("-----BEGIN CERTIFICATE-----").count();
    assert!(certificates > 50, "{certificates} CA certificates");
    let files: Vec<String> = std::fs::read_dir(&image.rootfs)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !files.iter().any(|f| f == "bin" || f == "lib" || f == "usr"),
        "FROM scratch: {files:?}"
    );

    let configmap = dir.join("configmap");
    let volume = ConfigMapVolume::new(&configmap, COREFILE);
    let mut container = start_container(&image, &configmap, dir.path());
    container.wait_line(|l| l == ".:53");
    let pid = container_pid(container.child.id());

    // What the kubelet's security context promises, as the kernel sees the process.
    assert_eq!(status_field(pid, "Uid").split_whitespace().collect::<Vec<_>>(), ["65532"; 4]);
    assert_eq!(status_field(pid, "Gid").split_whitespace().collect::<Vec<_>>(), ["65532"; 4]);
    let net_bind_service = format!("{:016x}", 1u64 << 10);
    assert_eq!(status_field(pid, "CapEff"), net_bind_service, "only NET_BIND_SERVICE");
    assert_eq!(status_field(pid, "CapBnd"), net_bind_service);
    assert_eq!(status_field(pid, "CapAmb"), "0000000000000000", "from the file capability");
    assert_eq!(status_field(pid, "NoNewPrivs"), "1");
    let mounts = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
    let root_mount = mounts
        .lines()
        .map(|l| l.split(' ').collect::<Vec<_>>())
        .find(|f| f[4] == "/")
        .expect("the container's root in its mountinfo");
    assert!(root_mount[5].split(',').any(|o| o == "ro"), "read-only root: {root_mount:?}");

    assert_eq!(dig_in(pid, &["webservice1.com", "A"]), "172.16.0.3\n");
    assert_eq!(dig_in(pid, &["+tcp", "webservice1.com", "A"]), "172.16.0.3\n");
    assert!(http_get_in(pid, 8080, "/health").starts_with("HTTP/1.0 200"));
    eventually("ready", || http_get_in(pid, 8181, "/ready").starts_with("HTTP/1.0 200")).await;
    let metrics = http_get_in(pid, 9153, "/metrics");
    assert!(metrics.contains("coredns_dns_requests_total{"), "{metrics}");

    // The ConfigMap changes: kubelet swaps `..data`, and reload picks the new Corefile up.
    volume.update("..2026_12_06_17_05_00.0002", &COREFILE.replace("172.16.0.3", "172.16.0.4"));
    eventually("the reloaded Corefile", || {
        dig_in(pid, &["webservice1.com", "A"]) == "172.16.0.4\n"
    })
    .await;

    // Kubelet stops a container with SIGTERM to its process, PID 1 in its namespace.
    run_ok(Command::new("kill").args(["-s", "TERM", &pid.to_string()]));
    assert_eq!(container.wait_exit(), 0, "log: {:?}", container.drain());
}
