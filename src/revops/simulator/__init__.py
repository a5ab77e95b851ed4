"""The vendor simulator: HubSpot, Google Ads and Mailchimp over one synthetic B2B company.

Loopback HTTP servers that speak each vendor's real wire format (paths, auth, paging, errors,
throttling) over one coherent, deterministic company, so connectors talk to it exactly as to
the vendor: only base URLs and credentials change (see :func:`env_exports`).

Typical use::

    from revops.simulator import Company, SimulatorServer, env_exports

    company = Company.generate(seed=42, scale=0.05)
    with SimulatorServer(company) as server:
        os.environ.update(env_exports(server.base_url))
        ...  # run connectors; compare with company.people, company.ad_daily, ...

Modules: ``company`` (pure generation and ground truth), ``hubspot``, ``google_ads`` (with the
``gaql`` parser), ``mailchimp`` (pure request -> response handlers), ``server`` (HTTP, routing,
fault injection), ``credentials`` (what the simulator accepts).
"""

from revops.simulator.company import Company
from revops.simulator.credentials import SIM_CREDENTIALS, env_exports
from revops.simulator.server import FaultConfig, SimulatorServer, run

__all__ = ["SIM_CREDENTIALS", "Company", "FaultConfig", "SimulatorServer", "env_exports", "run"]
