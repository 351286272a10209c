pub mod proc_net;
