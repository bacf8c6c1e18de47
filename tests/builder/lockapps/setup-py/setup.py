from setuptools import setup

# A setup.py project and nothing else: no requirements.txt, no pyproject.toml, no lock.
setup(
    name="hello-setup-py",
    version="0.1.0",
    py_modules=["app"],
    install_requires=["six==1.16.0", "colorama==0.4.6; sys_platform == 'win32'"],
)
