//! WSL: the Windows broker (WAM) reached from Linux through a Windows helper process.
