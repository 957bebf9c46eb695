"""A throwaway certificate authority made with the openssl command: a server certificate for
localhost, 127.0.0.1 and *.stores.test, and client certificates by Common Name."""

import os
import subprocess

SNI_SUFFIX = "stores.test"


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


class CertAuthority:
    def __init__(self, directory: str):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.ca_key = os.path.join(directory, "ca.key")
        self.ca_cert = os.path.join(directory, "ca.crt")
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                 "-subj", "/CN=storegate test CA", "-keyout", self.ca_key, "-out", self.ca_cert)

    def issue(self, name: str, common_name: str, dns: tuple = (), ips: tuple = ()) -> tuple:
        """(cert path, key path) signed by this CA."""
        key = os.path.join(self.dir, f"{name}.key")
        csr = os.path.join(self.dir, f"{name}.csr")
        cert = os.path.join(self.dir, f"{name}.crt")
        ext = os.path.join(self.dir, f"{name}.ext")
        alt = [f"DNS:{d}" for d in dns] + [f"IP:{i}" for i in ips]
        with open(ext, "w") as out:
            if alt:
                out.write("subjectAltName=" + ",".join(alt) + "\n")
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={common_name}",
                 "-keyout", key, "-out", csr)
        _openssl("x509", "-req", "-in", csr, "-CA", self.ca_cert, "-CAkey", self.ca_key,
                 "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", cert)
        os.chmod(key, 0o600)
        return cert, key

    def server_pair(self, name: str = "server") -> tuple:
        return self.issue(name, "localhost", dns=("localhost", f"*.{SNI_SUFFIX}"),
                          ips=("127.0.0.1",))
