"""licli: does a lateral-inhibition mechanism really make a network more robust?"""

__version__ = "0.1.0"
