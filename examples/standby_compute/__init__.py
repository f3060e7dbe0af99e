"""A warm standby over two EC2 regions: us-west-2 takes over when us-east-1 stops answering.

    python -m examples.standby_compute                      # about 5 s; needs the ec2 extra and moto
    python -m examples.standby_compute --instances 4 --standby 2 --failback-after 120

Starts moto on a free loopback port, registers an AMI in us-east-1 and us-west-2, and runs
two `failover.controllers.standby.StandbyPool`s: ``web`` keeps N instances running,
us-east-1 first; ``web-warm`` keeps a small copy running in us-west-2.  Then us-east-1's
EC2 endpoint stops answering (a blackhole in a fault proxy), the ``web`` pool creates its
instances in us-west-2, and once us-east-1 has answered again for ``failback_after``
seconds it terminates them.  One timeline row per pass.  See ``README.md`` beside this file.
"""

from examples.standby_compute.cli import main, show_demo
from examples.standby_compute.demo import DemoConfig, Outcome, Step, run_demo

__all__ = ["DemoConfig", "Outcome", "Step", "main", "run_demo", "show_demo"]
