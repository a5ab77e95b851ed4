"""The vendor simulator: six go-to-market APIs over one synthetic B2B company.

HTTPS servers on loopback that speak each vendor's real wire format (paths, auth, OAuth,
paging, errors, throttling) over one coherent, deterministic company, so connectors and the
vendors' own client libraries talk to it exactly as to the vendor: only base URLs, credentials
and the CA bundle change (see :func:`env_exports`).

Typical use::

    from revops.simulator import Company, SimulatorServer

    company = Company.generate(seed=42, scale=0.05, as_of="2026-11-02")
    with SimulatorServer(company, cert_dir=tmp) as server:
        os.environ.update(server.env())
        ...  # run connectors; compare with company.people, company.salesforce, ...

Modules: ``company`` (pure generation and ground truth) with ``crm`` (the sales side: accounts,
leads, opportunities, deals, activities) and ``social`` (Meta and LinkedIn ads); one module per
vendor (``google_ads`` with ``gaql``, ``meta_ads``, ``linkedin_ads``, ``mailchimp``, ``hubspot``,
``salesforce`` with ``soql``), each a pure request -> response handler; ``server`` (HTTPS, one
port per vendor), ``faults``, ``oauth`` (tokens), ``tls`` (certificates) and ``credentials``
(what the simulator accepts, ports, environment).
"""

from revops.simulator.company import Company
from revops.simulator.credentials import (
    SIM_CREDENTIALS,
    SYSTEMS,
    env_exports,
    export_lines,
    print_env,
    urls_for,
)
from revops.simulator.faults import FAULT_KINDS, FaultConfig
from revops.simulator.server import SimulatorServer, run

__all__ = [
    "FAULT_KINDS",
    "SIM_CREDENTIALS",
    "SYSTEMS",
    "Company",
    "FaultConfig",
    "SimulatorServer",
    "env_exports",
    "export_lines",
    "print_env",
    "run",
    "urls_for",
]
